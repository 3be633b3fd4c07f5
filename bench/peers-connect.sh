# shellcheck shell=bash
# The connect step of make bench-peers (sourced by bench/peers.sh): Kafka Connect
# standalone with Aiven's S3 sink connector, from Maven Central
# (bench/peers/aiven-pom.xml, io.confluent:* excluded as it is not on Central)
# into <cache>/peers-aiven-<version>/libs, Connect's plugin.path.
#
# Today it resolves the connector and, when Maven Central does not serve it,
# says so in one line and goes on. The worker run (ConnectStandalone with
# ByteArrayConverter, jsonl of key, value, offset, timestamp and headers, no
# compression, into the bench's bucket, timed until every record is in the
# bucket with and without worker start-up) is not built yet: it cannot be
# checked on a machine where the connector does not resolve.

# Versions tried, newest first: the 2.x line is the last one Aiven published
# to Maven Central (3.x ships as GitHub release archives).
AIVEN_VERSIONS=${BENCH_AIVEN_VERSIONS:-2.15.0 2.14.0}

connect_step() { # SIZE N
	[[ -n ${CONNECT_SKIP:-} ]] && return 0
	local v tried=()
	for v in $AIVEN_VERSIONS; do
		if mvn_copy "$ROOT/bench/peers/aiven-pom.xml" "$(cache_dir)/peers-aiven-$v" "-Daiven.version=$v"; then
			CONNECT_SKIP="connect: Aiven S3 sink $v resolved, but the Connect worker run is not built yet"
			note "$CONNECT_SKIP"
			return 0
		fi
		tried+=("$v: $MVN_ERROR")
	done
	CONNECT_SKIP="connect: skipped: io.aiven:s3-connector-for-apache-kafka does not resolve from Maven Central (tried ${tried[*]})"
	note "$CONNECT_SKIP"
}
