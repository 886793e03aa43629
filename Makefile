# leconnect developer tasks. `make test` is what CI runs (see .ci/run).

PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GOBIN                      ?= $(shell go env GOPATH)/bin

.PHONY: all build test proto proto-tools proto-check vet release fuzz

all: build

build:
	go build ./...

vet:
	go vet ./...

test:
	go test -race ./...

# Static, reproducible, stamped binaries of leconnect and each adapter for
# linux and darwin on amd64 and arm64, with SHA256SUMS, into dist/
# (scripts/release.sh says which variables narrow it).
release:
	bash scripts/release.sh

# Every fuzz target for FUZZTIME each (default 30s): `make fuzz FUZZTIME=5m`.
fuzz:
	bash scripts/fuzz.sh

# Regenerate the adapter protocol's Go code. The generators are pinned;
# protoc comes from Debian's protobuf-compiler package.
proto: proto-tools
	protoc --proto_path=proto \
		--plugin=protoc-gen-go=$(GOBIN)/protoc-gen-go \
		--plugin=protoc-gen-go-grpc=$(GOBIN)/protoc-gen-go-grpc \
		--go_out=proto --go_opt=paths=source_relative \
		--go-grpc_out=proto --go-grpc_opt=paths=source_relative \
		proto/leconnect/adapter/v1/adapter.proto

proto-tools:
	@test -x $(GOBIN)/protoc-gen-go && $(GOBIN)/protoc-gen-go --version | grep -q $(PROTOC_GEN_GO_VERSION) || \
		GOFLAGS= go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	@test -x $(GOBIN)/protoc-gen-go-grpc && $(GOBIN)/protoc-gen-go-grpc --version | grep -q $(PROTOC_GEN_GO_GRPC_VERSION:v%=%) || \
		GOFLAGS= go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

# Fails when the committed generated code differs from what `make proto` produces.
proto-check: proto
	@test -z "$$(git status --porcelain -- proto/)" || (git status --short -- proto/; echo "generated code in proto/ is stale: run 'make proto' and commit" >&2; exit 1)
