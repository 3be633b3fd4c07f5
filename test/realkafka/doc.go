// Package realkafka runs real Apache Kafka brokers for kferry's tests: KRaft
// clusters of one or three combined broker+controller nodes, each a JVM on
// 127.0.0.1 started from the release's Maven Central jars (no tarball, no
// Docker).
//
// Ensure resolves a release once per machine: a tiny pom per Kafka line
// (maven/kafka-3.9, maven/kafka-4, embedded) plus the logging backend the
// POMs lack, copied by Maven into <cache>/kafka-<version>/libs, where <cache>
// is KFERRY_CACHE_DIR or ~/.cache/kferry. Later runs reuse it without Maven or
// network; concurrent test processes serialise on a lock file and the folder
// appears by rename, complete.
//
// Start (or New, for a test) formats and starts a cluster on free ports with
// settings for tests (replication sized to the cluster, no initial rebalance
// delay, short heartbeats, a small heap) and returns once every node serves.
// A Node can be killed, stopped and started again for failure tests. Close
// stops each JVM by its PID (SIGTERM, then SIGKILL) and removes the data;
// every JVM also dies with the test process (Pdeathsig) and runs in a process
// group of its own.
//
// Options.SCRAM adds a SASL_PLAINTEXT listener (SCRAM-SHA-256 and -512, users
// written at format time) and Options.TLS an SSL listener requiring a client
// certificate, from a PKI generated with crypto/x509 into the cluster's folder
// and handed to Kafka as PEM.
//
// Tests on real brokers run when KFERRY_TEST_KAFKA=1 (see Gate); `make test`
// sets it. docs/development.md has the versions, the cache and how to add a
// release.
package realkafka
