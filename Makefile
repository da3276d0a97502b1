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

# The control plane the envtest suites run against, built from Go modules
# (hack/tools/kubernetes pins them) into bin/k8s/<version>/ once.
KUBE_VERSION   := 1.36.3
KUBE_ASSETS    := $(BIN)/k8s/$(KUBE_VERSION)
KUBE_TOOLS     := $(CURDIR)/hack/tools/kubernetes
KUBE_LDFLAGS   := -s -w $(foreach pkg,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
	-X $(pkg).gitVersion=v$(KUBE_VERSION) -X $(pkg).gitMajor=$(word 1,$(subst ., ,$(KUBE_VERSION))) \
	-X $(pkg).gitMinor=$(word 2,$(subst ., ,$(KUBE_VERSION))) -X $(pkg).gitTreeState=clean)

# Pinned tools, installed into bin/ on first use.
STATICCHECK_VERSION := v0.8.2
STATICCHECK         := $(BIN)/staticcheck-$(STATICCHECK_VERSION)

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

.PHONY: test
test: lint build envtest-assets ## Run every test: Go and Rego unit tests, envtest suites, the CLI on examples/.
	KUBEBUILDER_ASSETS=$(KUBE_ASSETS) go test -count=1 ./...
	$(FLUXGATE) policy test examples/policies
	@echo "--- fluxgate check examples/apps/compliant (must pass)"
	$(FLUXGATE) check examples/apps/compliant
	@echo "--- fluxgate check examples/apps/noncompliant (must be denied: exit 1)"
	@status=0; $(FLUXGATE) check -o json examples/apps/noncompliant > /dev/null || status=$$?; \
		if [ $$status -ne 1 ]; then echo "expected exit 1, got $$status"; exit 1; fi; echo "denied as expected"

.PHONY: lint
lint: $(STATICCHECK) ## Check formatting (gofmt), go vet and staticcheck.
	@out=$$(find . -name '*.go' -not -path './bin/*' -not -path './.git/*' -exec gofmt -l {} +); \
		if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	go vet ./...
	$(STATICCHECK) ./...

.PHONY: bench
bench: ## Run the benchmarks with allocation figures.
	go test -run '^$$' -bench . -benchmem ./policy/ ./check/

.PHONY: fmt
fmt: ## Format Go code.
	find . -name '*.go' -not -path './bin/*' -not -path './.git/*' -exec gofmt -w {} +

##@ Demo

.PHONY: demo
demo: build ## Check the example apps: one compliant, one that breaks every rule.
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

$(STATICCHECK):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(BIN)/staticcheck $(STATICCHECK)

.PHONY: clean
clean: ## Remove bin/.
	rm -rf $(BIN)
