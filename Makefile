# kferry: `make test` installs what the tests need (kcat, an S3 server) and runs them all.
GO ?= go

.PHONY: test build vet demo race

build:
	$(GO) build -o bin/kferry ./cmd/kferry

vet:
	gofmt -l . | (! grep .) || (echo "gofmt needed"; exit 1)
	$(GO) vet ./...

# test: the gofmt check and vet, then every test. scripts/test-env.sh installs kcat
# (Debian) and builds versitygw (a real S3 server, pinned) into a cache folder when
# they are missing, starts versitygw on 127.0.0.1, exports KFERRY_TEST_* for the
# tests and stops it when they end. -count=1: test/e2e runs a binary built from
# the tree, which Go's test cache cannot see.
test: vet
	GO=$(GO) bash scripts/test-env.sh $(GO) test -count=1 ./...

# race: the packages that run goroutines, under the race detector (slow to build,
# so not part of test).
race:
	$(GO) test -race ./internal/pipeline/... ./internal/kafka/...

demo:
	$(GO) run ./cmd/kferry demo

.PHONY: bench
# bench: 1,000,000 records of 1 KiB over 9 partitions on a kfake cluster in its own
# process (test/kfakeserver), kferry export/import next to kcat consume/produce, with
# peak RSS; BENCH_RECORDS=200000 for a quick run (bench/run.sh lists the knobs). Then
# the continuous export→import latency step (p50 <= 3 s, p99 <= 10 s at 1,000 records/s);
# BENCH_STEPS=latency runs only that.
bench:
	bash bench/run.sh

.PHONY: soak
# soak: the random-kill tests with 200 SIGKILLs each instead of 30 (minutes);
# KFERRY_KILL_SEED=N replays a printed seed.
soak:
	KFERRY_KILLS=$${KFERRY_KILLS:-200} $(GO) test -count=1 -timeout 60m -run 'TestRandomKill' -v ./test/e2e/

.PHONY: fuzz
# fuzz: every decoder and parser fuzz target for FUZZTIME each (default 30s).
fuzz:
	bash scripts/fuzz.sh
