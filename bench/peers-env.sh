# shellcheck shell=bash
# The services and tools of make bench-peers (sourced by bench/peers.sh, whose
# log, die, note, PIDS and WORK it uses): kferry and the Go helpers built into
# WORK, versitygw with one bucket, real Apache Kafka clusters (test/kafkaserver),
# and the JVM peers' classpaths resolved with Maven into the cache folder (never
# into the repository).

PEERS_VGW_VERSION=v1.8.0 # the one scripts/test-env.sh pins
KAFKA_VERSION=${BENCH_KAFKA_VERSION:-4.4.0}
BUCKET=peers

# log4j_of VERSION: the log4j 2 release test/realkafka/versions.go pins for it.
log4j_of() {
	sed -n "s/.*{Kafka: \"$1\", Line: \"kafka-4\", Log4j: \"\([^\"]*\)\"}.*/\1/p" "$ROOT/test/realkafka/versions.go"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port prints a port nothing listens on (a race with another process is
# caught by the caller's readiness poll failing).
free_port() {
	local port
	for _ in $(seq 50); do
		port=$((20000 + RANDOM % 40000))
		port_open "$port" || { echo "$port"; return; }
	done
	die "no free port"
}

start_versitygw() {
	local vgw port
	vgw=$(go_installed versitygw github.com/versity/versitygw/cmd/versitygw "$PEERS_VGW_VERSION" "${KFERRY_VERSITYGW:-}")
	mkdir -p "$WORK/s3/data" "$WORK/s3/iam"
	AWS_ACCESS_KEY_ID=peersroot
	AWS_SECRET_ACCESS_KEY=root-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION=us-east-1
	local pid attempt
	for attempt in 1 2 3 4 5; do # another process may take the port meanwhile
		port=$(free_port)
		ROOT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID ROOT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
			"$vgw" --port "127.0.0.1:$port" --iam-dir "$WORK/s3/iam" --quiet posix "$WORK/s3/data" \
			>"$WORK/versitygw.log" 2>&1 </dev/null &
		pid=$!
		PIDS+=("$pid")
		for _ in $(seq 300); do
			port_open "$port" && break 2
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		stop_pid "$pid"
		log "versitygw did not start on port $port (attempt $attempt): $(tail -n 1 "$WORK/versitygw.log")"
	done
	port_open "$port" || die "versitygw did not start"
	VGW_PID=$pid
	S3_ENDPOINT=http://127.0.0.1:$port
	curl -sf --max-time 30 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: $(printf '' | sha256sum | cut -d' ' -f1)" -X PUT "$S3_ENDPOINT/$BUCKET" >/dev/null || die "could not create bucket $BUCKET on versitygw"
	log "versitygw $PEERS_VGW_VERSION at $S3_ENDPOINT, bucket $BUCKET"
}

# bucket_url PREFIX: the kferry URL of PREFIX in the bucket.
bucket_url() { echo "s3://$BUCKET/$1?region=us-east-1&endpoint=$S3_ENDPOINT&use_path_style=true"; }

# start_kafka NAME TOPIC:PARTITIONS...: a one-node cluster; sets NAME_BROKERS,
# NAME_PID and NAME_JVM (the broker JVM's PID); BROKERS is SRC_BROKERS.
start_kafka() {
	local name=$1 out=$WORK/kafka-$1.addrs args=(-version "$KAFKA_VERSION") spec pid
	for spec in "${@:2}"; do args+=(-topic "$spec"); done
	: >"$out"
	"$WORK/kafkaserver" "${args[@]}" >"$out" 2>"$WORK/kafka-$name.log" &
	pid=$!
	PIDS+=("$pid")
	for _ in $(seq 1800); do
		(($(wc -l <"$out") >= 3)) && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	(($(wc -l <"$out") >= 3)) || die "kafkaserver $name did not start: $(tail -n 20 "$WORK/kafka-$name.log")"
	printf -v "${name}_BROKERS" '%s' "$(head -n1 "$out")"
	printf -v "${name}_PID" '%s' "$pid"
	printf -v "${name}_JVM" '%s' "$(sed -n 's/^pids //p' "$out")"
	[[ $name == SRC ]] && BROKERS=$SRC_BROKERS
	log "kafka $name: Apache Kafka $KAFKA_VERSION at $(head -n1 "$out")"
}

# kafka_starts: whether KAFKA_VERSION installs and serves (then stopped again).
kafka_starts() {
	local out=$WORK/kafka-PROBE.addrs pid ok=1
	"$WORK/kafkaserver" -version "$KAFKA_VERSION" >"$out" 2>"$WORK/kafka-PROBE.log" &
	pid=$!
	PIDS+=("$pid")
	for _ in $(seq 1800); do
		(($(wc -l <"$out") >= 3)) && { ok=0; break; }
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	stop_pid "$pid"
	return $ok
}

stop_kafka() { # NAME
	local v=${1}_PID
	[[ -n ${!v:-} ]] && stop_pid "${!v}"
	printf -v "$v" '%s' ""
}

# mvn_copy POM DIR PROPS...: the runtime closure of POM into DIR/libs, once
# per pom and properties (a stamp file); Maven's local repository is the
# harness's (<cache>/m2). Returns 1 when Maven cannot resolve it.
mvn_copy() {
	local pom=$1 dir=$2 stamp
	shift 2
	stamp=$( (cat "$pom"; echo "$@") | sha256sum | cut -c1-16)
	[[ -f $dir/.stamp && $(cat "$dir/.stamp") == "$stamp" ]] && return 0
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp"
	cp "$pom" "$dir.tmp/pom.xml"
	if ! timeout 900 mvn -B -q -f "$dir.tmp/pom.xml" "-Dmaven.repo.local=$(cache_dir)/m2" "$@" \
		org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies -DincludeScope=runtime \
		"-DoutputDirectory=$dir.tmp/libs" >"$dir.tmp/mvn.log" 2>&1; then
		MVN_ERROR=$(grep -oE '[a-z0-9.-]+:[a-z0-9.-]+:(jar|pom):[0-9][^ ]*' "$dir.tmp/mvn.log" | grep -v '^io.github.kferry' | head -n1 || true)
		MVN_ERROR="${MVN_ERROR:-$(tail -n1 "$dir.tmp/mvn.log")} not found on Maven Central"
		return 1
	fi
	echo "$stamp" >"$dir.tmp/.stamp"
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
}

# install_peers: MirrorMaker 2 and Connect (connect-mirror, connect-runtime,
# kafka-tools) at the broker's release, else at 4.1.2 when connect-mirror of
# that release is not on Maven Central; sets PEERS_VERSION, PEERS_JVM.
install_peers() {
	local v
	for v in "$KAFKA_VERSION" 4.1.2; do
		if mvn_copy "$ROOT/bench/peers/pom.xml" "$(cache_dir)/peers-$v" "-Dkafka.version=$v" "-Dlog4j.version=$(log4j_of "$v")"; then
			PEERS_VERSION=$v
			[[ $v == "$KAFKA_VERSION" ]] || note "MirrorMaker 2 and Connect run from $v jars: connect-mirror $KAFKA_VERSION did not resolve ($MVN_ERROR)"
			PEERS_JVM=(-Xmx"$HEAP" -XX:+UseG1GC -Djava.awt.headless=true
				"-Dlog4j2.configurationFile=$HARNESS_DIR/log4j2.properties" -cp "$(cache_dir)/peers-$v/libs/*")
			return 0
		fi
	done
	return 1
}

setup_env() {
	log "building kferry, kafkaserver, bench/peersreport and bench/latency into $WORK"
	(cd "$ROOT" && $GO build -o "$WORK/kferry" ./cmd/kferry && $GO build -o "$WORK/kafkaserver" ./test/kafkaserver &&
		$GO build -o "$WORK/peersreport" ./bench/peersreport && $GO build -o "$WORK/latency" ./bench/latency)
	[[ -n ${BENCH_KFERRY:-} ]] && cp "$BENCH_KFERRY" "$WORK/kferry"
	start_versitygw
	# A first start resolves the release's jars; 4.4.0 may not be installable.
	if ! kafka_starts; then
		[[ -z ${BENCH_KAFKA_VERSION:-} ]] || die "Apache Kafka $KAFKA_VERSION does not start: $(tail -n 5 "$WORK/kafka-PROBE.log")"
		note "Apache Kafka $KAFKA_VERSION did not install or start ($(tail -n 1 "$WORK/kafka-PROBE.log")): using 4.1.2"
		KAFKA_VERSION=4.1.2
	fi
	HARNESS_DIR=$(cache_dir)/kafka-$KAFKA_VERSION
	JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
	# The perf tools run from the broker's own jars (kafka-tools is in them).
	HARNESS_JVM=(-Xmx"$HEAP" -XX:+UseG1GC -Djava.awt.headless=true
		"-Dlog4j2.configurationFile=$HARNESS_DIR/log4j2.properties" -cp "$HARNESS_DIR/libs/*")
	PEERS_VERSION=
	if want migrate || want connect || want latency; then
		install_peers || note "MirrorMaker 2 and Connect skipped: their jars did not resolve ($MVN_ERROR)"
	fi
	{
		echo "scale=$SCALE"
		echo "partitions=$P"
		echo "kafka=$KAFKA_VERSION"
		echo "peers_jars=${PEERS_VERSION:-none}"
		echo "versitygw=$PEERS_VGW_VERSION"
		echo "kcat=$(kcat -V 2>&1 | sed -n 's/^Version \([^ ]*\).*\(librdkafka [^ ]*\).*/\1 (\2)/p')"
		echo "java=$("$JAVA" -version 2>&1 | head -n1)"
		echo "go=$($GO env GOVERSION)"
		echo "kferry=$(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo unknown)"
		echo "cpus=$(nproc)"
		echo "mem_mib=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)"
		echo "cpu_model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
		echo "heap=$HEAP"
		echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
	} >"$WORK/meta.txt"
}
