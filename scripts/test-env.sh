#!/usr/bin/env bash
# test-env.sh COMMAND [ARGS...]
#
# Runs COMMAND (normally `go test ./...`) with the services kferry's tests need:
#   - kcat, installed from Debian when `command -v kcat` fails;
#   - java (17+) and mvn, installed from Debian when missing: test/realkafka
#     resolves Apache Kafka's jars with Maven into the cache folder (once per
#     machine) and runs real brokers from them;
#   - versitygw, a real S3 protocol server, built with `go install` at a pinned
#     version into a cache folder when missing, started in its posix backend on a
#     temporary folder with a root user and one non-admin user (internal IAM).
#     Bucket versioning is available (--versioning-dir), as S3 Object Lock needs
#     it;
#   - fake-gcs-server, a Cloud Storage emulator speaking the JSON API, built the
#     same way, started with its filesystem backend on a temporary folder;
#   - Azurite, the Azure Storage emulator (blob service only), installed with npm
#     at a pinned version into a cache folder when missing (needs Node.js and
#     npm), started on a temporary folder with two accounts of random keys and
#     its telemetry off;
# each on a free 127.0.0.1 port, polled until it takes connections, and stopped
# (by its pid) when COMMAND ends. It exports for the tests:
#   KFERRY_TEST_KCAT                      path of kcat
#   KFERRY_TEST_KAFKA=1                   run the tests on real Apache Kafka brokers
#                                         (test/realkafka; KFERRY_TEST_KAFKA_VERSION,
#                                         if set, picks the release)
#   KFERRY_TEST_FASTAVRO                  a python with fastavro, pyarrow and duckdb
#                                         (the avro and parquet format tests)
#   KFERRY_TEST_APICURIO=1                run the avro tests on Apicurio Registry too
#                                         (test/apicurio; java 17+ and mvn)
#   KFERRY_TEST_SUMMARY                   a file the tests append one-line reports to
#                                         (the e2e suite: Kafka version, broker startup,
#                                         wall time); printed when COMMAND ends, since
#                                         go test shows a passing package's output only
#                                         with -v
#   KFERRY_TEST_S3_ENDPOINT               http://127.0.0.1:PORT
#   KFERRY_TEST_S3_ACCESS_KEY/SECRET_KEY  the root user (may create buckets)
#   KFERRY_TEST_S3_USER_ACCESS_KEY/SECRET the non-admin user (owns no bucket)
#   KFERRY_TEST_GCS_ENDPOINT              http://127.0.0.1:PORT (no credentials:
#                                         the emulator checks none)
#   KFERRY_TEST_AZURE_ENDPOINT            http://127.0.0.1:PORT (the account is
#                                         the first path segment)
#   KFERRY_TEST_AZURE_ACCOUNT/KEY         the account the tests use
#   KFERRY_TEST_AZURE_OTHER_ACCOUNT/KEY   a second account (owns no container)
#
# Environment: KFERRY_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/kferry)
# holds the builds; KFERRY_VERSITYGW, KFERRY_FAKE_GCS_SERVER (binary paths) and
# KFERRY_AZURITE (the path of an azurite-blob executable) and KFERRY_FASTAVRO_PYTHON
# (a python that imports fastavro, pyarrow and duckdb) skip them.
# Installing kcat needs root or passwordless sudo.
set -euo pipefail

VERSITYGW_VERSION=v1.8.0
FAKE_GCS_SERVER_VERSION=v1.56.1
# Azurite 3.36 and later need Node.js 21 or newer; 3.35.0 runs on Node.js 20.
AZURITE_VERSION=3.35.0
# fastavro reads the .avro objects of the avro format tests (an independent reader).
FASTAVRO_VERSION=1.13.1
# fastavro's snappy and zstandard codecs need these.
CRAMJAM_VERSION=2.14.0
BACKPORTS_ZSTD_VERSION=1.8.0
# pyarrow and DuckDB read the .parquet objects of the parquet format tests.
PYARROW_VERSION=26.0.1
DUCKDB_VERSION=2.0.0
GO=${GO:-go}

log() { echo "test-env: $*" >&2; }

# as_root runs a command as root: directly, or through passwordless sudo.
as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		log "need root (or passwordless sudo) to run: $*"
		return 1
	fi
}

ensure_kcat() {
	if command -v kcat >/dev/null; then
		return
	fi
	log "kcat missing: installing it from Debian"
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update </dev/null
	as_root apt-get install -y --no-install-recommends kcat </dev/null
	command -v kcat >/dev/null
}

# ensure_java_maven installs what test/realkafka needs to run Apache Kafka
# from Maven Central jars: a Java 17+ runtime and Maven.
ensure_java_maven() {
	local missing=()
	if [ -z "${JAVA_HOME:-}" ] && ! command -v java >/dev/null; then
		missing+=(openjdk-17-jre-headless)
	fi
	if ! command -v mvn >/dev/null; then
		missing+=(maven)
	fi
	if [ ${#missing[@]} -eq 0 ]; then
		return
	fi
	log "${missing[*]} missing: installing from Debian (the real Apache Kafka tests need java 17+ and mvn)"
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update </dev/null
	as_root apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
	command -v java >/dev/null && command -v mvn >/dev/null
}

# cache_dir, go_installed
. "$(dirname "${BASH_SOURCE[0]}")/lib/go-installed.sh"

# ensure_azurite prints the path of Azurite's blob service, installing the
# pinned version from npm into the cache folder if needed.
ensure_azurite() {
	if [ -n "${KFERRY_AZURITE:-}" ]; then
		echo "$KFERRY_AZURITE"
		return
	fi
	local dir
	dir=$(cache_dir)/azurite-$AZURITE_VERSION
	if [ ! -x "$dir/node_modules/.bin/azurite-blob" ]; then
		if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
			log "Azurite needs Node.js and npm (Node.js 20 will do for Azurite $AZURITE_VERSION)"
			return 1
		fi
		log "installing Azurite $AZURITE_VERSION from npm into $dir (a minute or two, once)"
		mkdir -p "$dir"
		npm install --prefix "$dir" --save-exact --no-audit --no-fund --loglevel=error \
			"azurite@$AZURITE_VERSION" </dev/null >&2
	fi
	echo "$dir/node_modules/.bin/azurite-blob"
}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# port_open reports whether something accepts connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pids=()
workdir=
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	if [ -n "$workdir" ]; then
		rm -rf "$workdir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_service NAME LAUNCHER starts a server on a free port, retrying on a port
# race, and waits (polling, with a deadline) until it accepts connections.
# LAUNCHER PORT LOG must start the server in the background on 127.0.0.1:PORT,
# writing to LOG. Sets service_port; the server is stopped at exit.
start_service() {
	local name=$1 launcher=$2 attempt port pid deadline logfile=$workdir/$1.log
	for attempt in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		if port_open "$port"; then
			continue
		fi
		"$launcher" "$port" "$logfile"
		pid=$!
		pids+=("$pid")
		deadline=$((SECONDS + 60))
		while [ "$SECONDS" -lt "$deadline" ]; do
			if ! kill -0 "$pid" 2>/dev/null; then
				break # exited: most likely the port was taken meanwhile; try another
			fi
			if port_open "$port"; then
				service_port=$port
				log "$name on 127.0.0.1:$port (pid $pid)"
				return
			fi
			sleep 0.1
		done
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		log "$name did not start on port $port (attempt $attempt):"
		cat "$logfile" >&2
	done
	log "giving up on $name"
	return 1
}

launch_versitygw() {
	mkdir -p "$workdir/s3/data" "$workdir/s3/iam" "$workdir/s3/versions"
	# Keys through the environment, not the command line (ps shows that).
	ROOT_ACCESS_KEY_ID=$KFERRY_TEST_S3_ACCESS_KEY ROOT_SECRET_ACCESS_KEY=$KFERRY_TEST_S3_SECRET_KEY \
		"$vgw" --port "127.0.0.1:$1" --iam-dir "$workdir/s3/iam" --quiet \
		posix --versioning-dir "$workdir/s3/versions" "$workdir/s3/data" >"$2" 2>&1 </dev/null &
}

launch_fake_gcs_server() {
	mkdir -p "$workdir/gcs"
	# -external-url: the Location of resumable uploads, which the client follows;
	# -public-host: the host of XML API paths (/bucket/object), which the Go
	# client reads objects through.
	"$fgcs" -scheme http -host 127.0.0.1 -port "$1" -external-url "http://127.0.0.1:$1" -public-host "127.0.0.1:$1" \
		-backend filesystem -filesystem-root "$workdir/gcs" -log-level warn >"$2" 2>&1 </dev/null &
}

# ensure_fastavro prints the path of a Python with the pinned fastavro,
# installed from PyPI into a venv in the cache folder if needed.
ensure_fastavro() {
	if [ -n "${KFERRY_FASTAVRO_PYTHON:-}" ]; then
		echo "$KFERRY_FASTAVRO_PYTHON"
		return
	fi
	local dir
	dir=$(cache_dir)/pyreaders-$FASTAVRO_VERSION-$PYARROW_VERSION-$DUCKDB_VERSION
	if [ ! -x "$dir/bin/python" ] || ! "$dir/bin/python" -c 'import fastavro, cramjam, backports.zstd, pyarrow, duckdb' 2>/dev/null; then
		if ! command -v python3 >/dev/null; then
			log "the fastavro tests need python3 (with venv)"
			return 1
		fi
		log "installing fastavro $FASTAVRO_VERSION, pyarrow $PYARROW_VERSION and duckdb $DUCKDB_VERSION from PyPI into $dir (once)"
		python3 -m venv "$dir" >&2
		"$dir/bin/pip" install --quiet --disable-pip-version-check "fastavro==$FASTAVRO_VERSION" \
			"cramjam==$CRAMJAM_VERSION" "backports.zstd==$BACKPORTS_ZSTD_VERSION" \
			"pyarrow==$PYARROW_VERSION" "duckdb==$DUCKDB_VERSION" </dev/null >&2
	fi
	echo "$dir/bin/python"
}

launch_azurite() {
	mkdir -p "$workdir/azure"
	# Accounts and keys through the environment (AZURITE_ACCOUNTS), not the
	# command line. --skipApiVersionCheck: the Azure SDK in go.mod speaks a newer
	# API version than the last Azurite for Node.js 20 knows, and Azurite
	# refuses unknown versions by default.
	AZURITE_ACCOUNTS="$KFERRY_TEST_AZURE_ACCOUNT:$KFERRY_TEST_AZURE_KEY;$KFERRY_TEST_AZURE_OTHER_ACCOUNT:$KFERRY_TEST_AZURE_OTHER_KEY" \
		"$azurite" --blobHost 127.0.0.1 --blobPort "$1" --location "$workdir/azure" \
		--skipApiVersionCheck --disableTelemetry --silent >"$2" 2>&1 </dev/null &
}

main() {
	if [ $# -eq 0 ]; then
		log "usage: $0 COMMAND [ARGS...]"
		exit 2
	fi
	ensure_kcat
	ensure_java_maven
	local vgw fgcs azurite
	vgw=$(go_installed versitygw github.com/versity/versitygw/cmd/versitygw "$VERSITYGW_VERSION" "${KFERRY_VERSITYGW:-}")
	fgcs=$(go_installed fake-gcs-server github.com/fsouza/fake-gcs-server "$FAKE_GCS_SERVER_VERSION" "${KFERRY_FAKE_GCS_SERVER:-}")
	azurite=$(ensure_azurite)
	KFERRY_TEST_FASTAVRO=$(ensure_fastavro)
	# Apicurio Registry (a real Schema Registry) runs from Maven Central with
	# the same java and mvn as the real Kafka tests (test/apicurio).
	KFERRY_TEST_APICURIO=1
	export KFERRY_TEST_FASTAVRO KFERRY_TEST_APICURIO
	workdir=$(mktemp -d "${TMPDIR:-/tmp}/kferry-test-env.XXXXXX")

	KFERRY_TEST_S3_ACCESS_KEY=kferryroot
	KFERRY_TEST_S3_SECRET_KEY=root-$(random_hex 16)
	KFERRY_TEST_S3_USER_ACCESS_KEY=kferryuser
	KFERRY_TEST_S3_USER_SECRET_KEY=user-$(random_hex 16)
	start_service versitygw launch_versitygw
	KFERRY_TEST_S3_ENDPOINT=http://127.0.0.1:$service_port
	# The second user: role "user" owns only the buckets it creates, so it gets a
	# genuine AccessDenied on the root user's buckets.
	ADMIN_ACCESS_KEY_ID=$KFERRY_TEST_S3_ACCESS_KEY ADMIN_SECRET_ACCESS_KEY=$KFERRY_TEST_S3_SECRET_KEY \
		"$vgw" admin --endpoint-url "$KFERRY_TEST_S3_ENDPOINT" create-user \
		--access "$KFERRY_TEST_S3_USER_ACCESS_KEY" --secret "$KFERRY_TEST_S3_USER_SECRET_KEY" --role user >/dev/null

	start_service fake-gcs-server launch_fake_gcs_server
	KFERRY_TEST_GCS_ENDPOINT=http://127.0.0.1:$service_port

	# Azure account keys are base64.
	KFERRY_TEST_AZURE_ACCOUNT=kferrytest
	KFERRY_TEST_AZURE_KEY=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
	KFERRY_TEST_AZURE_OTHER_ACCOUNT=kferryother
	KFERRY_TEST_AZURE_OTHER_KEY=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
	start_service Azurite launch_azurite
	KFERRY_TEST_AZURE_ENDPOINT=http://127.0.0.1:$service_port

	KFERRY_TEST_KCAT=$(command -v kcat)
	KFERRY_TEST_KAFKA=1
	KFERRY_TEST_SUMMARY=$workdir/summary.txt
	export KFERRY_TEST_KCAT KFERRY_TEST_KAFKA KFERRY_TEST_SUMMARY KFERRY_TEST_S3_ENDPOINT KFERRY_TEST_S3_ACCESS_KEY KFERRY_TEST_S3_SECRET_KEY \
		KFERRY_TEST_S3_USER_ACCESS_KEY KFERRY_TEST_S3_USER_SECRET_KEY KFERRY_TEST_GCS_ENDPOINT \
		KFERRY_TEST_AZURE_ENDPOINT KFERRY_TEST_AZURE_ACCOUNT KFERRY_TEST_AZURE_KEY \
		KFERRY_TEST_AZURE_OTHER_ACCOUNT KFERRY_TEST_AZURE_OTHER_KEY
	log "versitygw $VERSITYGW_VERSION at $KFERRY_TEST_S3_ENDPOINT, fake-gcs-server $FAKE_GCS_SERVER_VERSION at $KFERRY_TEST_GCS_ENDPOINT, Azurite $AZURITE_VERSION at $KFERRY_TEST_AZURE_ENDPOINT, kcat at $KFERRY_TEST_KCAT"
	log "real Apache Kafka tests on (KFERRY_TEST_KAFKA=1${KFERRY_TEST_KAFKA_VERSION:+, version $KFERRY_TEST_KAFKA_VERSION}): $(java -version 2>&1 | head -n 1), $(command -v mvn)"

	local rc=0
	"$@" || rc=$?
	if [ -s "$KFERRY_TEST_SUMMARY" ]; then
		sed 's/^/test-env: /' "$KFERRY_TEST_SUMMARY" >&2
	fi
	if [ "$rc" -ne 0 ]; then
		local f
		for f in "$workdir"/*.log; do
			if [ -s "$f" ]; then
				log "$(basename "$f" .log) log:"
				tail -n 50 "$f" >&2
			fi
		done
	fi
	return "$rc"
}

main "$@"
