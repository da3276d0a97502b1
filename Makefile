# fluxgate — run `make help` for the targets.

# The Go modules fluxgate builds on may need a newer Go than the machine
# has; let the go command fetch the toolchain go.mod asks for.
export GOTOOLCHAIN := auto

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

BIN        := $(CURDIR)/bin
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -s -w -X main.version=$(VERSION)
GO_FLAGS   := -trimpath
FLUXGATE   := $(BIN)/fluxgate
IMG        ?= ghcr.io/fluxgate/fluxgate:$(VERSION)

# The control plane the envtest suites run against, built from Go modules
# (hack/tools/kubernetes pins them) into bin/k8s/<version>/ once.
KUBE_VERSION   := 1.36.3
KUBE_ASSETS    := $(BIN)/k8s/$(KUBE_VERSION)
KUBE_TOOLS     := $(CURDIR)/hack/tools/kubernetes
KUBE_LDFLAGS   := -s -w $(foreach pkg,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
	-X $(pkg).gitVersion=v$(KUBE_VERSION) -X $(pkg).gitMajor=$(word 1,$(subst ., ,$(KUBE_VERSION))) \
	-X $(pkg).gitMinor=$(word 2,$(subst ., ,$(KUBE_VERSION))) -X $(pkg).gitTreeState=clean)

# The Go toolchain go.mod asks for (GOTOOLCHAIN=auto fetches it). Tools
# that type-check fluxgate's packages (staticcheck, controller-gen) must be
# built by at least this Go, or they refuse code needing a newer one, so they
# are built with it and their file names carry it: a new go directive
# rebuilds them.
GO_VERSION := $(shell GOTOOLCHAIN=auto go env GOVERSION)

# Pinned tools, installed into bin/ on first use.
STATICCHECK_VERSION    := v0.8.2
STATICCHECK            := $(BIN)/staticcheck-$(STATICCHECK_VERSION)-$(GO_VERSION)
CONTROLLER_GEN_VERSION := v0.23.0
CONTROLLER_GEN         := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)-$(GO_VERSION)

# The Flux CRDs the envtest suites install, copied from (or, for
# HelmRelease, generated from) the Flux Go modules into bin/flux-crds/ by
# `make flux-crds`; never written by hand. See hack/flux-crds.sh.
FLUX_CRDS                    := $(BIN)/flux-crds
KUSTOMIZE_CONTROLLER_VERSION := v1.9.5
SOURCE_CONTROLLER_VERSION    := v1.10.1

# The CRDs of the integrations the chart renders objects for, from their
# Go modules, so that the chart's tests check those objects against the
# real schemas (hack/integration-crds.sh).
INTEGRATION_CRDS     := $(BIN)/integration-crds
CERT_MANAGER_VERSION := v1.21.2
PROM_OPERATOR_VERSION := v0.85.0
OPENREPORTS_VERSION  := v0.2.1
CLUSTER_API_VERSION  := v1.13.6

# The upstream manifests test/upstream checks against reviewed golden
# findings (Flux's install, ingress-nginx, cert-manager, podinfo, ...),
# downloaded from their Go modules at the versions and paths
# test/testdata/upstream/sources.yaml pins (hack/upstream-manifests.sh),
# never copied into the repository. `make test` passes the folder as
# FLUXGATE_UPSTREAM; the tests find bin/upstream by themselves when run by
# hand.
UPSTREAM := $(BIN)/upstream

# The simulated cluster the end-to-end tests start (test/e2e/cluster):
# etcd, kube-apiserver, kube-controller-manager and kube-scheduler from
# hack/tools/kubernetes, kwok (the kubelets of fake nodes) and its stage
# files from hack/tools/kwok, Flux's kustomize-controller from
# hack/tools/kustomize-controller (its version is pinned there, and must
# match KUSTOMIZE_CONTROLLER_VERSION). `make e2e-assets` gathers them in
# bin/e2e/, the folder FLUXGATE_E2E_BIN names; the tests find it by
# themselves when run by hand.
E2E_BIN        := $(BIN)/e2e
KWOK_TOOLS     := $(CURDIR)/hack/tools/kwok
KC_TOOLS       := $(CURDIR)/hack/tools/kustomize-controller
E2E_KUBE_BINS  := etcd kube-apiserver kube-controller-manager kube-scheduler
# The kwok stages, as paths under the kwok module's kustomize/stage/.
KWOK_STAGES    := node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
	node/chaos/node-not-ready pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete
E2E_ASSETS     := $(addprefix $(E2E_BIN)/,$(E2E_KUBE_BINS) kwok kustomize-controller) \
	$(E2E_BIN)/kwok-stages/STAGES $(FLUX_CRDS)/VERSIONS

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
		/^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2 } \
		/^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: build
build: ## Build bin/fluxgate.
	go build $(GO_FLAGS) -ldflags '$(LDFLAGS)' -o $(FLUXGATE) ./cmd/fluxgate

# The packages whose code runs concurrently (the engine and its cache, the
# webhook handlers and their cap, the guard, the audit) are tested under
# the race detector; every other package without it, so none runs twice.
RACE_PKGS := ./policy ./policy/planeval ./webhook ./controllers ./audit ./fluxbuild
space := $(subst ,, )
TEST_ENV = KUBEBUILDER_ASSETS=$(KUBE_ASSETS) FLUX_CRDS=$(FLUX_CRDS) INTEGRATION_CRDS=$(INTEGRATION_CRDS) FLUXGATE_UPSTREAM=$(UPSTREAM) \
	CONTROLLER_GEN=$(CONTROLLER_GEN) FLUXGATE_BIN=$(FLUXGATE) FLUXGATE_E2E=1 FLUXGATE_E2E_BIN=$(E2E_BIN)

.PHONY: test
test: lint build envtest-assets flux-crds integration-crds controller-gen e2e-assets upstream-manifests ## Run every test: Go and Rego unit tests, envtest suites, the chart installed, the end-to-end scenarios, the CLI on examples/, the golden findings on upstream manifests.
	$(TEST_ENV) go test -count=1 -race -timeout 30m $(RACE_PKGS)
	$(TEST_ENV) go test -count=1 -timeout 30m $$(go list ./... | grep -v -E '/($(subst $(space),|,$(notdir $(RACE_PKGS))))$$')
	$(FLUXGATE) policy test examples/policies
	@echo "--- fluxgate check examples/apps/compliant (must pass)"
	$(FLUXGATE) check examples/apps/compliant
	@echo "--- fluxgate check examples/apps/noncompliant (must be denied: exit 1)"
	@status=0; $(FLUXGATE) check -o json examples/apps/noncompliant > /dev/null || status=$$?; \
		if [ $$status -ne 1 ]; then echo "expected exit 1, got $$status"; exit 1; fi; echo "denied as expected"

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate the API's deepcopy code (api/*/zz_generated.deepcopy.go).
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) $(INTEGRATION_CRDS)/VERSIONS ## Generate the CRDs (config/crd/bases/) from the API types, and copy them into the Helm chart, with the OpenReports CRD the chart installs on request.
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases
	rm -f charts/fluxgate/crds/*.yaml
	cp config/crd/bases/*.yaml charts/fluxgate/crds/
	install -m 644 $(INTEGRATION_CRDS)/openreports.io_reports.yaml charts/fluxgate/files/

.PHONY: lint
lint: $(STATICCHECK) ## Check formatting (gofmt), go vet and staticcheck.
	@out=$$(find . -name '*.go' -not -path './bin/*' -not -path './.git/*' -exec gofmt -l {} +); \
		if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	go vet ./...
	$(STATICCHECK) ./...

.PHONY: bench
bench: ## Run the benchmarks with allocation figures.
	go test -run '^$$' -bench . -benchmem ./policy/ ./check/

# Gatekeeper's gator, for the side-by-side benchmark: built once into bin/
# from hack/tools/gator, a module of its own so that Gatekeeper never enters
# go.mod (its version there must be GATOR_VERSION). Not part of `make test`.
GATOR_VERSION       := v3.23.1
GATOR               := $(BIN)/gator-$(GATOR_VERSION)
BENCH_COMPARE_FLAGS ?=

.PHONY: bench-compare
bench-compare: $(GATOR) ## Time the built-in set and Gatekeeper's gator bench (Rego) on the same Deployment: P50, P99, ratio (first time: builds gator, ~3 min).
	go run ./hack/benchcompare -gator $(GATOR) $(BENCH_COMPARE_FLAGS)

$(GATOR):
	@mkdir -p $(BIN)
	@echo "building gator $(GATOR_VERSION) (first time: ~3 min)"
	cd hack/tools/gator && test "$$(go list -m -f '{{.Version}}' github.com/open-policy-agent/gatekeeper/v3)" = $(GATOR_VERSION) && \
		go build -trimpath -ldflags '-s -w -X github.com/open-policy-agent/gatekeeper/v3/pkg/version.Version=$(GATOR_VERSION)' \
		-o $@.tmp github.com/open-policy-agent/gatekeeper/v3/cmd/gator
	mv $@.tmp $@

# The same file, named as typed from the repository root.
bin/gator-$(GATOR_VERSION): $(GATOR)

.PHONY: fmt
fmt: ## Format Go code.
	find . -name '*.go' -not -path './bin/*' -not -path './.git/*' -exec gofmt -w {} +

.PHONY: docker-build
docker-build: ## Build the container image IMG (needs a Docker engine; none runs on the CI machines).
	docker build --build-arg VERSION=$(VERSION) -t $(IMG) .

##@ Demo

.PHONY: demo
demo: build e2e-assets ## Start a local cluster with Flux and fluxgate, and narrate node maintenance without downtime (first time: builds ~10 min).
	@echo "=== everything is built; starting the demo"
	FLUXGATE_BIN=$(FLUXGATE) FLUXGATE_E2E_BIN=$(E2E_BIN) FLUX_CRDS=$(FLUX_CRDS) go run ./test/e2e/demo

.PHONY: demo-check
demo-check: build ## Check the example apps offline: one compliant, one that breaks every rule.
	@echo "=== fluxgate policy list"
	@$(FLUXGATE) policy list
	@echo
	@echo "=== fluxgate check examples/apps/compliant"
	@$(FLUXGATE) check examples/apps/compliant
	@echo
	@echo "=== fluxgate check examples/apps/noncompliant"
	@status=0; $(FLUXGATE) check examples/apps/noncompliant || status=$$?; \
		echo; echo "exit status $$status (1: something was denied, so a pipeline would stop here)"; \
		[ $$status -eq 1 ]

##@ Tools

.PHONY: envtest-assets
envtest-assets: $(KUBE_ASSETS)/kube-apiserver $(KUBE_ASSETS)/etcd ## Build kube-apiserver and etcd for the envtest suites (first time: minutes).

$(KUBE_ASSETS)/kube-apiserver: $(KUBE_TOOLS)/go.mod
	@mkdir -p $(KUBE_ASSETS)
	cd $(KUBE_TOOLS) && go build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $@.tmp k8s.io/kubernetes/cmd/kube-apiserver
	mv $@.tmp $@

$(KUBE_ASSETS)/etcd: $(KUBE_TOOLS)/go.mod
	@mkdir -p $(KUBE_ASSETS)
	cd $(KUBE_TOOLS) && go build -trimpath -ldflags '-s -w' -o $@.tmp go.etcd.io/etcd/server/v3
	mv $@.tmp $@

# `go install tool@version` picks its Go from the tool's go.mod, not from
# fluxgate's: GOTOOLCHAIN=$(GO_VERSION)+auto makes it fluxgate's (or newer).
$(STATICCHECK):
	@mkdir -p $(BIN)
	GOTOOLCHAIN=$(GO_VERSION)+auto GOBIN=$(BIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(BIN)/staticcheck $(STATICCHECK)

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Build the pinned controller-gen into bin/.

$(CONTROLLER_GEN):
	@mkdir -p $(BIN)
	GOTOOLCHAIN=$(GO_VERSION)+auto GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/controller-gen $(CONTROLLER_GEN)

.PHONY: flux-crds
flux-crds: $(FLUX_CRDS)/VERSIONS ## Put the Flux CRDs, from the Flux Go modules, into bin/flux-crds/.

# Redone when the versions (here, or helm-controller/api's in go.mod) or the
# script change.
$(FLUX_CRDS)/VERSIONS: Makefile go.mod hack/flux-crds.sh $(CONTROLLER_GEN)
	CONTROLLER_GEN=$(CONTROLLER_GEN) hack/flux-crds.sh $(FLUX_CRDS) \
		github.com/fluxcd/kustomize-controller@$(KUSTOMIZE_CONTROLLER_VERSION) \
		github.com/fluxcd/source-controller@$(SOURCE_CONTROLLER_VERSION)

.PHONY: integration-crds
integration-crds: $(INTEGRATION_CRDS)/VERSIONS ## Put cert-manager's, the Prometheus Operator's, OpenReports' and Cluster API's CRDs, from their Go modules, into bin/integration-crds/.

$(INTEGRATION_CRDS)/VERSIONS: Makefile hack/integration-crds.sh
	hack/integration-crds.sh $(INTEGRATION_CRDS) \
		github.com/cert-manager/cert-manager@$(CERT_MANAGER_VERSION):deploy/crds/cert-manager.io_certificates.yaml \
		github.com/cert-manager/cert-manager@$(CERT_MANAGER_VERSION):deploy/crds/cert-manager.io_issuers.yaml \
		github.com/prometheus-operator/prometheus-operator@$(PROM_OPERATOR_VERSION):example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml \
		github.com/openreports/reports-api@$(OPENREPORTS_VERSION):config/crd/openreports.io_reports.yaml \
		sigs.k8s.io/cluster-api@$(CLUSTER_API_VERSION):config/crd/bases/cluster.x-k8s.io_clusters.yaml \
		sigs.k8s.io/cluster-api@$(CLUSTER_API_VERSION):controlplane/kubeadm/config/crd/bases/controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml

.PHONY: upstream-manifests
upstream-manifests: $(UPSTREAM)/VERSIONS ## Download the upstream manifests test/upstream checks (Flux, ingress-nginx, cert-manager, ...) from their Go modules into bin/upstream/.

# Redone when the source list, the script or the code that fetches changes.
$(UPSTREAM)/VERSIONS: Makefile hack/upstream-manifests.sh test/testdata/upstream/sources.yaml \
		$(wildcard test/upstream/sources/*.go test/upstream/fetch/*.go)
	hack/upstream-manifests.sh $(UPSTREAM)

.PHONY: clean
clean: ## Remove bin/.
	rm -rf $(BIN)

##@ End to end

.PHONY: e2e-assets
e2e-assets: $(E2E_ASSETS) ## Gather the simulated cluster's binaries in bin/e2e/ (first time: ~10 min).

$(addprefix $(KUBE_ASSETS)/,kube-controller-manager kube-scheduler): $(KUBE_ASSETS)/%: $(KUBE_TOOLS)/go.mod
	@mkdir -p $(KUBE_ASSETS)
	@echo "building $* (first time: ~5 min)"
	cd $(KUBE_TOOLS) && go build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $@.tmp k8s.io/kubernetes/cmd/$*
	mv $@.tmp $@

# bin/e2e/ links to the Kubernetes binaries, so that one folder holds all.
$(addprefix $(E2E_BIN)/,$(E2E_KUBE_BINS)): $(E2E_BIN)/%: $(KUBE_ASSETS)/%
	@mkdir -p $(E2E_BIN)
	ln -sfn ../k8s/$(KUBE_VERSION)/$* $@

$(E2E_BIN)/kwok: $(KWOK_TOOLS)/go.mod
	@mkdir -p $(E2E_BIN)
	@echo "building kwok (first time: ~2 min)"
	cd $(KWOK_TOOLS) && go build -trimpath -ldflags '-s -w' -o $@.tmp sigs.k8s.io/kwok/cmd/kwok
	mv $@.tmp $@

$(E2E_BIN)/kwok-stages/STAGES: $(KWOK_TOOLS)/go.mod Makefile
	@echo "copying the kwok stages"
	rm -rf $(@D) && mkdir -p $(@D)
	cd $(KWOK_TOOLS) && go mod download sigs.k8s.io/kwok && dir=$$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok) && \
		for stage in $(KWOK_STAGES); do install -m 0644 "$$dir/kustomize/stage/$$stage.yaml" $(@D)/; done
	echo "$(KWOK_STAGES)" > $@

$(E2E_BIN)/kustomize-controller: $(KC_TOOLS)/go.mod
	@mkdir -p $(E2E_BIN)
	@echo "building kustomize-controller (first time: ~3 min)"
	cd $(KC_TOOLS) && go build -trimpath -ldflags '-s -w' -o $@.tmp github.com/fluxcd/kustomize-controller
	mv $@.tmp $@
