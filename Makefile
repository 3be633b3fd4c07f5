# kferry: `make test` installs what the tests need (kcat, an S3 server) and runs them all.
GO ?= go

.PHONY: test build vet demo race

# build stamps the commit and its date (GOFLAGS may turn Go's own VCS stamp off);
# releases also stamp the version (see internal/buildinfo).
BUILDINFO = github.com/kferry/kferry/internal/buildinfo
build:
	$(GO) build -ldflags "-X $(BUILDINFO).commit=$$(git rev-parse HEAD 2>/dev/null) -X $(BUILDINFO).date=$$(git log -1 --format=%cI 2>/dev/null)" -o bin/kferry ./cmd/kferry

# vet: gofmt, go vet, then golangci-lint (.golangci.yml) at the version pinned in
# scripts/golangci-lint.sh, which builds it into the cache folder when missing.
vet:
	gofmt -l . | (! grep .) || (echo "gofmt needed"; exit 1)
	$(GO) vet ./...
	GO=$(GO) bash scripts/golangci-lint.sh run ./...

# test: vet (gofmt, go vet, golangci-lint) and race first, then every test.
# scripts/test-env.sh installs kcat, java and mvn (Debian) and builds versitygw
# (a real S3 server, pinned) into a cache folder when they are missing, starts
# versitygw on 127.0.0.1, exports KFERRY_TEST_* for the tests and stops it when
# they end. KFERRY_TEST_KAFKA=1 switches on the tests on real Apache Kafka
# brokers (test/realkafka), which resolve the pinned releases' jars with Maven
# into the cache folder once and start and stop the JVMs themselves.
# -count=1: test/e2e runs a binary built from the tree, which Go's test cache
# cannot see. -timeout 30m: on real brokers the e2e package takes about 10 min
# on two cores (the leader-failure tests on a 3-node cluster run alone first),
# past go test's default limit of 10 min per package.
# Then the compatibility subset on the oldest release we support (3.9.2; the
# e2e suite ran on 4.1.2), about 2 min; `make test-compat` runs every release.
# Its table goes to a scratch file: docs/compatibility.md is test-compat's.
# Last, the release build for the host's platform (scripts/release.sh --host,
# into build/release-check): archive, SBOM, checksums, image, and the binary's
# version; `make release-snapshot` builds all six platforms.
test: vet race
	GO=$(GO) bash scripts/test-env.sh $(GO) test -count=1 -timeout 30m ./...
	GO=$(GO) bash scripts/test-env.sh $(GO) run ./test/compat -versions 3.9.2 -out "$${TMPDIR:-/tmp}/kferry-compat-3.9.2.md"
	GO=$(GO) bash scripts/release.sh --host

# race: the packages that run goroutines (errgroups and franz-go callbacks in
# pipeline, backup, migrate, objset and kafka, the metrics server, the S3 transport's connections in
# store), and only those, under the race detector: it is slow to build. Through
# scripts/test-env.sh, as pkg/store's conformance suite needs the storage servers.
RACE_PKGS = ./internal/pipeline/... ./internal/backup/... ./internal/migrate/... ./internal/objset/... ./internal/kafka/... ./internal/metrics/... ./pkg/store/...
race:
	GO=$(GO) bash scripts/test-env.sh $(GO) test -race $(RACE_PKGS)

demo:
	$(GO) run ./cmd/kferry demo

.PHONY: test-compat
# test-compat: the core e2e subset (kcat round trip, backup/restore, fidelity and
# exact group offsets, SIGKILL restore, migrate) on every Apache Kafka release
# test/realkafka/versions.go pins, one after another, through
# scripts/test-env.sh as `make test`; test/compat writes the table of release x
# test to docs/compatibility.md (also when a test fails; it then exits 1).
# About 2 min per release on two cores, 8 min for the four (10 min while other
# work loads the machine), plus each release's first jar install (30-45 s).
test-compat:
	GO=$(GO) bash scripts/test-env.sh $(GO) run ./test/compat -out docs/compatibility.md

.PHONY: bench
# bench: 1,000,000 records of 1 KiB over 9 partitions on a kfake cluster in its own
# process (test/kfakeserver), kferry export/import next to kcat consume/produce, with
# peak RSS; BENCH_RECORDS=200000 for a quick run (bench/run.sh lists the knobs). Then
# the continuous export→import latency step (p50 <= 3 s, p99 <= 10 s at 1,000 records/s)
# and the migrate step; BENCH_STEPS=latency runs only the latency step. The scale step
# (bench/scale.sh, issue 12) runs scenarios a (2,000 partitions × 50 records × 200 B),
# b (2,000,000 × 100 B over 9 partitions) and c (1,000 topics × 10 partitions × 100
# records, --topic-regex '.*'): kcat consume/produce next to export, backup, import and
# restore (exactly once and at least once), best of BENCH_REPEAT (3), as time ratios;
# BENCH_SCENARIOS, BENCH_SCALE_STEPS=reads|writes pick parts. BENCH_SCALE=small scales
# every step down (about a minute plus kferry's write time). BENCH_BROKER=kafka
# runs them against real Apache Kafka brokers (test/kafkaserver; BENCH_KAFKA_VERSION,
# BENCH_BROKERS=3 for a 3-node cluster).
bench:
	bash bench/run.sh

.PHONY: bench-peers
# bench-peers (issue 14): kferry next to kcat, Kafka's perf tools, MirrorMaker 2 and
# Kafka Connect + Aiven's S3 sink on one real Apache Kafka broker (4.4.0, else 4.1.2)
# and versitygw: export, import (exactly once, at least once), backup/restore, and
# migrate with group offset exactness. Needs java 17+, mvn and kcat (scripts/test-env.sh
# installs them). BENCH_PEERS_SCALE=small for a run of a few minutes, BENCH_PEERS_STEPS
# to pick steps; bench/peers.sh lists the knobs. Results (JSON, Markdown, SVG) go to
# bench/results/peers-*; `go run ./bench/compare OLD.json NEW.json` compares two runs.
bench-peers:
	bash bench/peers.sh

.PHONY: bench-parquet
# bench-parquet: 1,000,000 Avro records (wire format, srfake registry, kfake in
# process) exported as Parquet next to the same records exported as JSON, with
# peak RSS; BENCH_RECORDS for another count.
bench-parquet: build
	$(GO) run ./bench/parquet -kferry bin/kferry -records $${BENCH_RECORDS:-1000000}

.PHONY: soak
# soak: the random-kill tests with 200 SIGKILLs each instead of 30 (minutes);
# KFERRY_KILL_SEED=N replays a printed seed.
soak:
	KFERRY_KILLS=$${KFERRY_KILLS:-200} $(GO) test -count=1 -timeout 60m -run 'TestRandomKill' -v ./test/e2e/

.PHONY: release-snapshot
# release-snapshot: a release of the checkout into dist/, nothing published
# (scripts/release.sh): static binaries for linux, darwin and windows on amd64
# and arm64 with goreleaser (pinned, built into the cache folder once), archives
# with man pages and completions, an SBOM per archive, checksums.txt, and the
# container image (deploy/image, no Docker engine); then it checks them (checksums
# verify, the host binary prints the snapshot's version).
release-snapshot:
	GO=$(GO) bash scripts/release.sh

.PHONY: fuzz
# fuzz: every decoder and parser fuzz target for FUZZTIME each (default 30s).
fuzz:
	bash scripts/fuzz.sh
