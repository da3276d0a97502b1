# fluxgate: one static binary on distroless, running as non-root.
# Build: make docker-build (IMG=... VERSION=...). The go build line below is
# also run by test/dockerfile_test.go, so a broken line fails `make test`.

ARG GO_VERSION=1.27
FROM golang:${GO_VERSION} AS build
WORKDIR /src
ENV GOTOOLCHAIN=auto CGO_ENABLED=0
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/fluxgate ./cmd/fluxgate

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/fluxgate /usr/local/bin/fluxgate
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/fluxgate"]
CMD ["serve"]
