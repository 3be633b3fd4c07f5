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
#     temporary folder, on a free 127.0.0.1 port, with a root user and one
#     non-admin user (internal IAM), and stopped when COMMAND ends. Bucket
#     versioning is available (--versioning-dir), as S3 Object Lock needs it.
# and exports for the tests:
#   KFERRY_TEST_KCAT                      path of kcat
#   KFERRY_TEST_KAFKA=1                   run the tests on real Apache Kafka brokers
#                                         (test/realkafka; KFERRY_TEST_KAFKA_VERSION,
#                                         if set, picks the release)
#   KFERRY_TEST_S3_ENDPOINT               http://127.0.0.1:PORT
#   KFERRY_TEST_S3_ACCESS_KEY/SECRET_KEY  the root user (may create buckets)
#   KFERRY_TEST_S3_USER_ACCESS_KEY/SECRET the non-admin user (owns no bucket)
#
# Environment: KFERRY_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/kferry)
# holds the versitygw build; KFERRY_VERSITYGW (a binary path) skips the build.
# Installing kcat needs root or passwordless sudo.
set -euo pipefail

VERSITYGW_VERSION=v1.8.0
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

# ensure_versitygw prints the path of a versitygw binary, building it if needed.
ensure_versitygw() {
	if [ -n "${KFERRY_VERSITYGW:-}" ]; then
		echo "$KFERRY_VERSITYGW"
		return
	fi
	local cache=${KFERRY_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/kferry}
	local dir=$cache/versitygw-$VERSITYGW_VERSION
	if [ ! -x "$dir/versitygw" ]; then
		log "building versitygw $VERSITYGW_VERSION into $dir (takes a few minutes, once)"
		mkdir -p "$dir"
		# Outside any module, so the pinned version's own go.mod decides.
		(cd "$dir" && GOBIN=$dir GOFLAGS= "$GO" install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION") >&2
	fi
	echo "$dir/versitygw"
}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# port_open reports whether something accepts connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

vgw_pid=
workdir=
cleanup() {
	if [ -n "$vgw_pid" ] && kill -0 "$vgw_pid" 2>/dev/null; then
		kill "$vgw_pid" 2>/dev/null || true
		wait "$vgw_pid" 2>/dev/null || true
	fi
	if [ -n "$workdir" ]; then
		rm -rf "$workdir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_versitygw starts the server on a free port, retrying on a port race, and
# waits (polling, with a deadline) until it answers.
start_versitygw() {
	local bin=$1 attempt port deadline
	mkdir -p "$workdir/data" "$workdir/iam" "$workdir/versions"
	for attempt in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		if port_open "$port"; then
			continue
		fi
		# Keys through the environment, not the command line (ps shows that).
		ROOT_ACCESS_KEY_ID=$KFERRY_TEST_S3_ACCESS_KEY ROOT_SECRET_ACCESS_KEY=$KFERRY_TEST_S3_SECRET_KEY \
			"$bin" --port "127.0.0.1:$port" --iam-dir "$workdir/iam" --quiet \
			posix --versioning-dir "$workdir/versions" "$workdir/data" >"$workdir/versitygw.log" 2>&1 </dev/null &
		vgw_pid=$!
		deadline=$((SECONDS + 30))
		while [ "$SECONDS" -lt "$deadline" ]; do
			if ! kill -0 "$vgw_pid" 2>/dev/null; then
				break # exited: most likely the port was taken meanwhile; try another
			fi
			if port_open "$port"; then
				KFERRY_TEST_S3_ENDPOINT=http://127.0.0.1:$port
				return
			fi
			sleep 0.1
		done
		kill "$vgw_pid" 2>/dev/null || true
		wait "$vgw_pid" 2>/dev/null || true
		vgw_pid=
		log "versitygw did not start on port $port (attempt $attempt):"
		cat "$workdir/versitygw.log" >&2
	done
	log "giving up on versitygw"
	return 1
}

main() {
	if [ $# -eq 0 ]; then
		log "usage: $0 COMMAND [ARGS...]"
		exit 2
	fi
	ensure_kcat
	ensure_java_maven
	local vgw
	vgw=$(ensure_versitygw)
	workdir=$(mktemp -d "${TMPDIR:-/tmp}/kferry-test-env.XXXXXX")

	KFERRY_TEST_S3_ACCESS_KEY=kferryroot
	KFERRY_TEST_S3_SECRET_KEY=root-$(random_hex 16)
	KFERRY_TEST_S3_USER_ACCESS_KEY=kferryuser
	KFERRY_TEST_S3_USER_SECRET_KEY=user-$(random_hex 16)
	start_versitygw "$vgw"
	# The second user: role "user" owns only the buckets it creates, so it gets a
	# genuine AccessDenied on the root user's buckets.
	ADMIN_ACCESS_KEY_ID=$KFERRY_TEST_S3_ACCESS_KEY ADMIN_SECRET_ACCESS_KEY=$KFERRY_TEST_S3_SECRET_KEY \
		"$vgw" admin --endpoint-url "$KFERRY_TEST_S3_ENDPOINT" create-user \
		--access "$KFERRY_TEST_S3_USER_ACCESS_KEY" --secret "$KFERRY_TEST_S3_USER_SECRET_KEY" --role user >/dev/null

	KFERRY_TEST_KCAT=$(command -v kcat)
	KFERRY_TEST_KAFKA=1
	export KFERRY_TEST_KCAT KFERRY_TEST_KAFKA KFERRY_TEST_S3_ENDPOINT KFERRY_TEST_S3_ACCESS_KEY KFERRY_TEST_S3_SECRET_KEY \
		KFERRY_TEST_S3_USER_ACCESS_KEY KFERRY_TEST_S3_USER_SECRET_KEY
	log "versitygw $VERSITYGW_VERSION at $KFERRY_TEST_S3_ENDPOINT (pid $vgw_pid), kcat at $KFERRY_TEST_KCAT"
	log "real Apache Kafka tests on (KFERRY_TEST_KAFKA=1${KFERRY_TEST_KAFKA_VERSION:+, version $KFERRY_TEST_KAFKA_VERSION}): $(java -version 2>&1 | head -n 1), $(command -v mvn)"

	local rc=0
	"$@" || rc=$?
	if [ "$rc" -ne 0 ] && [ -s "$workdir/versitygw.log" ]; then
		log "versitygw log:"
		tail -n 50 "$workdir/versitygw.log" >&2
	fi
	return "$rc"
}

main "$@"
