#!/usr/bin/env bash
# make bench: kferry export/import next to kcat consume/produce, measured in the
# same run against a cluster that runs as its own process on 127.0.0.1, so that
# kcat and kferry both talk to it over loopback TCP: kfake (test/kfakeserver) by
# default, or real Apache Kafka brokers with BENCH_BROKER=kafka (test/kafkaserver,
# JVMs from test/realkafka's cached Maven Central jars, 256 MiB heap each; java 17+
# and mvn must be installed, as scripts/test-env.sh does for `make test`).
#
# One round per format in BENCH_FORMATS, each on a fresh cluster:
#   1. kcat -P (idempotent, acks=all) produces BENCH_RECORDS JSON lines of
#      BENCH_RECORD_BYTES into topic "bench" (BENCH_PARTITIONS partitions, created
#      with the cluster's replication factor)                     -> kcat produce
#   2. kcat -C -e -o beginning reads them all to /dev/null         -> kcat consume
#   3. kferry export --format F --to file://DIR                    -> export
#   4. kferry import --from file://DIR --rename bench=bench-copy   -> import
#   5. the record counts of export, import and of bench-copy (read with kcat) are
#      checked against BENCH_RECORDS.
# Rates are records over the wall-clock seconds of each process, start to exit;
# peak RSS is GNU time's "Maximum resident set size"; CPU is the process's user +
# system time and the broker's over the same step (from /proc: kfakeserver, or
# the sum over the JVMs). Export is compared with kcat's consume rate, import with
# kcat's produce rate. The table is printed and kept in bench/results/ (gitignored).
#
#
# Then the latency step, on a fresh cluster with topic "lat" (BENCH_PARTITIONS
# partitions): kferry export --follow --rotate-interval 1s into file://DIR and
# kferry import --follow --poll-interval 1s --rename lat=lat-copy run in the
# background while bench/latency produces BENCH_LATENCY_RATE records/s round-robin
# into lat for BENCH_LATENCY_DURATION and reads lat-copy (read_committed): a
# record's latency is its arrival on lat-copy minus its produce time on lat. One
# cluster holds both topics, so producer and consumer share one clock. Then both
# kferry processes get SIGTERM and must exit 0. Targets: p50 <= 3 s and p99 <= 10 s;
# the script exits 1 when they are missed or a record is missing or duplicated.
#
# Then the migrate step: the same measurement through one kferry migrate --follow
# --rotate-interval 1s process, from topic lat on one cluster to lat-copy on a
# second one (two cluster processes), same targets.
#
# Environment: BENCH_BROKER (kfake, or kafka for real Apache Kafka brokers),
# BENCH_KAFKA_VERSION (with kafka: one of test/realkafka's versions, default its
# DefaultKafka), BENCH_STEPS ("throughput scale latency migrate"; e.g. BENCH_STEPS=latency
# runs only the latency step; the scale step and its knobs are in bench/scale.sh),
# BENCH_SCALE=small (every step scaled down: 100,000 records, a 10 s latency step, the
# scale scenarios divided), BENCH_RECORDS (1000000), BENCH_RECORD_BYTES (1024),
# BENCH_PARTITIONS (9), BENCH_BROKERS (brokers per cluster: 3 with kfake, 1 with kafka;
# BENCH_BROKERS=3 with kafka is a 3-node cluster, replication factor 3), BENCH_FORMATS ("bytes json"),
# BENCH_TIMEOUT seconds per step (900), BENCH_LATENCY_RATE (1000),
# BENCH_LATENCY_DURATION (60s), BENCH_KEEP=1 keeps the work folder, BENCH_KFERRY=path
# runs that kferry binary instead of building one (before/after comparisons),
# KFERRY_CPUPROFILE and KFERRY_MEMPROFILE are passed to kferry ("%s" in them becomes
# the step's name).
set -euo pipefail

# BENCH_SCALE=small: every step scaled down, the whole run near a minute.
if [[ ${BENCH_SCALE:-} == small ]]; then
	N=${BENCH_RECORDS:-100000} LAT_DURATION=${BENCH_LATENCY_DURATION:-10s}
else
	N=${BENCH_RECORDS:-1000000} LAT_DURATION=${BENCH_LATENCY_DURATION:-60s}
fi
SIZE=${BENCH_RECORD_BYTES:-1024}
P=${BENCH_PARTITIONS:-9}
BROKER=${BENCH_BROKER:-kfake}
KAFKA_VERSION=${BENCH_KAFKA_VERSION:-}
case $BROKER in
kfake) BROKERS_N=${BENCH_BROKERS:-3} ;;
kafka) BROKERS_N=${BENCH_BROKERS:-1} ;;
*) printf 'bench: BENCH_BROKER=%s: want kfake or kafka\n' "$BROKER" >&2; exit 1 ;;
esac
FORMATS=${BENCH_FORMATS:-bytes json}
STEP_TIMEOUT=${BENCH_TIMEOUT:-900}
STEPS=${BENCH_STEPS:-throughput scale latency migrate}
LAT_RATE=${BENCH_LATENCY_RATE:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=$ROOT/bench/results
GO=${GO:-go}

log() { printf '%s bench: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "$*"; exit 1; }

(( SIZE >= 32 )) || die "BENCH_RECORD_BYTES must be at least 32"
for step in $STEPS; do
	[[ $step == throughput || $step == scale || $step == latency || $step == migrate ]] ||
		die "BENCH_STEPS: unknown step $step (throughput, scale, latency, migrate)"
done
want() { [[ " $STEPS " == *" $1 "* ]]; }

apt_install() { # Debian package; waits for another apt run to finish
	[[ $(id -u) == 0 ]] || die "$1 is missing: apt-get install -y $1"
	log "installing $1"
	for _ in $(seq 20); do
		if timeout 300 apt-get update -qq >/dev/null 2>&1 &&
			DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq "$1" >/dev/null 2>&1; then
			return 0
		fi
		sleep 6 # most likely the apt lock of a concurrent install
	done
	die "could not install $1"
}
if want throughput || want scale; then
	command -v kcat >/dev/null || apt_install kcat
	[[ -x /usr/bin/time ]] || apt_install time
fi

# SERVER_PID is the cluster's process (kfakeserver or kafkaserver), SERVER2_PID
# the migrate step's target cluster's; BROKER_PIDS are the processes that do the
# broker's work (kfakeserver itself, or the JVMs), whose CPU and RSS are counted.
SERVER_PID=
SERVER2_PID=
BROKER_PIDS=
stop_clusters() { # SIGTERM; kafkaserver stops its JVMs within 15 s, then SIGKILL
	local pid
	[[ -n $SERVER_PID$SERVER2_PID ]] || return 0
	for pid in $SERVER_PID $SERVER2_PID; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in $SERVER_PID $SERVER2_PID; do
		for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	SERVER_PID= SERVER2_PID= BROKER_PIDS=
}
# The latency step's background kferry processes; cleanup kills what is left.
EXPORT_PID=
IMPORT_PID=
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kferry-bench.XXXXXX")
cleanup() {
	local pid
	for pid in $EXPORT_PID $IMPORT_PID; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	stop_clusters
	if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building kferry, ${BROKER}server and bench/latency into $WORK"
(cd "$ROOT" && $GO build -o "$WORK/kferry" ./cmd/kferry && $GO build -o "$WORK/server" "./test/${BROKER}server" &&
	$GO build -o "$WORK/latency" ./bench/latency)
if [[ -n ${BENCH_KFERRY:-} ]]; then # another build, e.g. to compare before and after a change
	log "using kferry $BENCH_KFERRY"
	cp "$BENCH_KFERRY" "$WORK/kferry"
fi

# spawn_server NAME [TOPIC:PARTITIONS...]: starts a cluster process (with those topics)
# as SERVER_PID (NAME cluster) or SERVER2_PID (NAME target) and waits until it
# prints its addresses (kafkaserver: once its JVMs serve and the topic is led);
# sets SPAWNED_ADDRS, SPAWNED_BROKER_PIDS and BROKER_DESC.
spawn_server() {
	local name=$1 out=$WORK/$1.addrs args=() spec
	local lines=1 tries=100 # kfakeserver prints one line at once
	for spec in "${@:2}"; do args+=(-topic "$spec"); done
	if [[ $BROKER == kafka ]]; then
		args+=(-nodes "$BROKERS_N")
		if [[ -n $KAFKA_VERSION ]]; then args+=(-version "$KAFKA_VERSION"); fi
		lines=3 tries=3000 # kafkaserver three once its JVMs serve (a first run resolves the jars)
	else
		args+=(-brokers "$BROKERS_N")
	fi
	: >"$out"
	"$WORK/server" "${args[@]}" >"$out" 2>"$WORK/$name.log" &
	local pid=$!
	if [[ $name == target ]]; then SERVER2_PID=$pid; else SERVER_PID=$pid; fi
	for _ in $(seq $tries); do
		(($(wc -l <"$out") >= lines)) && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	(($(wc -l <"$out") >= lines)) || die "${BROKER}server printed no addresses: $(tail -n 20 "$WORK/$name.log")"
	SPAWNED_ADDRS=$(head -n1 "$out")
	SPAWNED_BROKER_PIDS=$pid
	if [[ $BROKER == kafka ]]; then
		SPAWNED_BROKER_PIDS=$(sed -n 's/^pids //p' "$out")
		BROKER_DESC="Apache Kafka $(sed -n 's/^version //p' "$out"), $BROKERS_N node(s), JVMs with the harness's 256 MiB heap"
	else
		BROKER_DESC="kfake, $BROKERS_N brokers in one process"
	fi
}
# start_cluster TOPIC: a fresh cluster with TOPIC ($P partitions); sets BROKERS.
start_cluster() {
	stop_clusters
	spawn_server cluster "$1:$P"
	BROKERS=$SPAWNED_ADDRS BROKER_PIDS=$SPAWNED_BROKER_PIDS
	log "$BROKER_DESC, topic $1 with $P partitions, on $BROKERS"
}
# start_target_cluster: a second, empty cluster; sets TARGET_BROKERS.
start_target_cluster() {
	spawn_server target
	TARGET_BROKERS=$SPAWNED_ADDRS
	log "target: $BROKER_DESC on $TARGET_BROKERS"
}
# broker_cpu prints the CPU ticks the broker processes have used so far.
broker_cpu() {
	local pid
	for pid in $BROKER_PIDS; do cat "/proc/$pid/stat"; done | awk '{s += $14 + $15} END {print s}'
}
# broker_rss_kb prints the sum of the broker processes' peak RSS in KiB.
broker_rss_kb() {
	local pid
	for pid in $BROKER_PIDS; do cat "/proc/$pid/status"; done | awk '/VmHWM/ {s += $2} END {print s}'
}

# measure NAME RECORDS STDIN STDOUT CMD... runs CMD under GNU time with a timeout
# and appends "NAME RECORDS NANOSECONDS MAXRSS_KB CPU_S BROKER_CPU_S" to results.tsv
# (or to MEASURE_TSV).
measure() {
	local name=$1 recs=$2 in=$3 out=$4
	shift 4
	log "$name: $*"
	local t0 t1 k0 k1 rc=0 file=$WORK/${name//\//-}
	k0=$(broker_cpu)
	t0=$(date +%s%N)
	timeout -k 10 "$STEP_TIMEOUT" /usr/bin/time -v -o "$file.time" "$@" <"$in" >"$out" 2>"$file.log" || rc=$?
	t1=$(date +%s%N)
	k1=$(broker_cpu)
	if ((rc != 0)); then
		tail -n 20 "$file.log" >&2 || true
		die "$name exited with $rc"
	fi
	local rss cpu
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$file.time")
	cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$file.time")
	echo "$name $recs $((t1 - t0)) $rss $cpu $(awk -v k=$((k1 - k0)) -v hz="$(getconf CLK_TCK)" 'BEGIN {print k / hz}')" >>"${MEASURE_TSV:-$WORK/results.tsv}"
	log "$name: $(awk -v ns=$((t1 - t0)) -v r="$recs" -v kb="$rss" 'BEGIN { printf "%.2fs, %.0f records/s, peak RSS %.0f MiB", ns/1e9, r/(ns/1e9), kb/1024 }')"
}

# reported FILE prints the records count of a kferry --report file.
reported() { awk -F'[:,]' '/^  "records":/ {gsub(/ /, "", $2); print $2; exit}' "$1"; }

profile() { # NAME: KFERRY_*PROFILE with %s replaced by NAME
	local v
	for v in KFERRY_CPUPROFILE KFERRY_MEMPROFILE; do
		[[ -n ${!v:-} ]] && printf '%s=%s ' "$v" "${!v//%s/$1}"
	done
	return 0
}

# gen_records N SIZE: N JSON lines of SIZE bytes each (the newline not counted).
gen_records() {
	awk -v n="$1" -v size="$2" 'BEGIN {
		pad = ""
		while (length(pad) < size) pad = pad "abcdefghijklmnopqrstuvwxyz0123456789"
		for (i = 0; i < n; i++) {
			h = sprintf("{\"id\":%d,\"pad\":\"", i)
			printf "%s%s\"}\n", h, substr(pad, 1, size - length(h) - 2)
		}
	}'
}

mkdir -p "$RESULTS"
stamp=$(date +%Y%m%d-%H%M%S)
table=$RESULTS/bench-$stamp.md
: >"$table"
rev=$(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo unknown)

throughput() {
	log "generating $N records of $SIZE bytes"
	gen_records "$N" "$SIZE" >"$WORK/records.jsonl"
	[[ $(head -c "$((SIZE + 1))" "$WORK/records.jsonl" | wc -c) == $((SIZE + 1)) ]] || die "generator made a wrong line size"
	: >"$WORK/results.tsv"

	# One round per format on a fresh cluster, so that every ratio compares kferry
	# with kcat on the same cluster state and the broker holds at most two copies.
	local f got broker_rss=0 load_before
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	for f in $FORMATS; do
		start_cluster bench
		# kcat's produce rate: one process, librdkafka defaults (linger 5 ms, 1 MB
		# batches) but idempotent with acks=all, as kferry import produces; records
		# spread over the partitions by its partitioner.
		measure "$f/kcat-produce" "$N" "$WORK/records.jsonl" /dev/null kcat -P -b "$BROKERS" -t bench \
			-X acks=all -X enable.idempotence=true
		measure "$f/kcat-consume" "$N" /dev/null /dev/null kcat -C -b "$BROKERS" -t bench -e -o beginning -q
		rm -rf "$WORK/bucket"
		mkdir -p "$WORK/bucket"
		measure "$f/export" "$N" /dev/null /dev/null env $(profile "export-$f") "$WORK/kferry" export \
			--brokers "$BROKERS" --topics bench --to "file://$WORK/bucket" --format "$f" \
			--report "$WORK/export-$f.json" --log-format text
		got=$(reported "$WORK/export-$f.json")
		[[ $got == "$N" ]] || die "export --format $f wrote $got records, want $N"
		measure "$f/import" "$N" /dev/null /dev/null env $(profile "import-$f") "$WORK/kferry" import \
			--brokers "$BROKERS" --from "file://$WORK/bucket" --rename "bench=bench-copy" \
			--report "$WORK/import-$f.json" --log-format text
		got=$(reported "$WORK/import-$f.json")
		[[ $got == "$N" ]] || die "import --format $f wrote $got records, want $N"
		got=$(timeout "$STEP_TIMEOUT" kcat -C -b "$BROKERS" -t bench-copy -e -o beginning -q -f 'x\n' | wc -l)
		[[ $got == "$N" ]] || die "kcat reads $got records from bench-copy, want $N"
		broker_rss=$(awk -v m="$broker_rss" -v r="$(broker_rss_kb)" 'BEGIN {print (r > m ? r : m)}')
		stop_clusters
	done

	local kcat_version
	kcat_version=$(kcat -V 2>&1 | sed -n 's/^Version \([^ ]*\).*\(librdkafka [^ ]*\).*/kcat \1, \2/p')
	awk -v size="$SIZE" -v n="$N" -v p="$P" -v broker="$BROKER_DESC" -v brss="$broker_rss" -v kcat="$kcat_version" \
		-v load="$load_before / $(cut -d' ' -f1-3 /proc/loadavg)" -v gover="$($GO env GOVERSION)" \
		-v cpus="$(nproc)" -v when="$(date -u +%FT%TZ)" -v rev="$rev" '
	{ name[NR] = $1; recs[$1] = $2; secs[$1] = $3 / 1e9; rss[$1] = $4; cpu[$1] = $5; kcpu[$1] = $6 }
	END {
		printf "kferry bench %s (%s, %s, %s): %d records of %d B (%.2f GiB) over %d partitions;\n", when, rev, gover, kcat, n, size, n * size / 2^30, p
		printf "%s; %d CPUs, load average before / after %s\n\n", broker, cpus, load
		printf "| step | seconds | records/s | MB/s | peak RSS MiB | CPU s | broker CPU s | vs kcat |\n"
		printf "|---|---:|---:|---:|---:|---:|---:|---|\n"
		verdict = "PASS"
		for (i = 1; i <= NR; i++) {
			s = name[i]; r = recs[s] / secs[s]
			split(s, part, "/")
			vs = ""; ref = ""
			if (part[2] == "export") ref = part[1] "/kcat-consume"
			if (part[2] == "import") ref = part[1] "/kcat-produce"
			if (ref != "") {
				ratio = r / (recs[ref] / secs[ref])
				vs = sprintf("%.2f× %s", ratio, ref)
				if (ratio < 0.8) { vs = vs " (below 0.8)"; verdict = "MISSED" }
			}
			if (part[2] == "export" && rss[s] > 256 * 1024) { vs = vs ", RSS above 256 MiB"; verdict = "MISSED" }
			printf "| %s | %.2f | %.0f | %.1f | %.0f | %.2f | %.2f | %s |\n", s, secs[s], r, r * size / 1e6, rss[s] / 1024, cpu[s], kcpu[s], vs
		}
		printf "\nMB/s counts value bytes (10^6 B/s). CPU s is the step'"'"'s own user+system time, broker CPU s the\n"
		printf "broker'"'"'s during the step; broker peak RSS %.0f MiB. Each format runs on a fresh cluster.\n", brss / 1024
		printf "Targets (export and import >= 0.80× kcat consume/produce, export peak RSS <= 256 MiB): %s\n", verdict
	}' "$WORK/results.tsv" >>"$table"
	cp "$WORK/results.tsv" "$RESULTS/bench-$stamp.tsv"
}

# proc_usage PID prints "CPU_S PEAK_RSS_MIB" of a running process (from /proc).
proc_usage() {
	local ticks kb
	ticks=$(awk '{print $14 + $15}' "/proc/$1/stat")
	kb=$(awk '/VmHWM/ {print $2}' "/proc/$1/status")
	awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v kb="$kb" 'BEGIN {printf "%.2f %.0f", t / hz, kb / 1024}'
}

# stop_follow NAME PID: SIGTERM, and the process must exit 0 within its
# --shutdown-timeout (30 s by default; 45 s allowed here before SIGKILL).
stop_follow() {
	local rc=0
	kill -TERM "$2" 2>/dev/null || die "$1 had already exited: $(tail -n 20 "$WORK/lat-$1.log")"
	for _ in $(seq 450); do kill -0 "$2" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$2" 2>/dev/null || true
	wait "$2" || rc=$?
	((rc == 0)) || die "$1 exited with $rc after SIGTERM: $(tail -n 20 "$WORK/lat-$1.log")"
}

# latency: export --follow and import --follow in the background, bench/latency
# in front; appends its section to the table and a line to latency.tsv.
LAT_VERDICT=PASS
latency() {
	local url=file://$WORK/lat-bucket rc=0 k0 k1 exp_usage imp_usage
	start_cluster lat
	rm -rf "$WORK/lat-bucket"
	mkdir -p "$WORK/lat-bucket"
	k0=$(broker_cpu)
	env $(profile "latency-export") "$WORK/kferry" export --follow --brokers "$BROKERS" --topics lat --to "$url" \
		--rotate-interval 1s --log-format text >"$WORK/lat-export.log" 2>&1 &
	EXPORT_PID=$!
	env $(profile "latency-import") "$WORK/kferry" import --follow --brokers "$BROKERS" --from "$url" \
		--rename lat=lat-copy --poll-interval 1s --log-format text >"$WORK/lat-import.log" 2>&1 &
	IMPORT_PID=$!
	log "latency: $LAT_RATE records/s into lat for $LAT_DURATION (export pid $EXPORT_PID, import pid $IMPORT_PID)"
	timeout -k 10 "$STEP_TIMEOUT" "$WORK/latency" -brokers "$BROKERS" -source lat -target lat-copy -partitions "$P" \
		-rate "$LAT_RATE" -duration "$LAT_DURATION" >"$WORK/latency.out" 2>"$WORK/latency.log" || rc=$?
	cat "$WORK/latency.log" >&2
	k1=$(broker_cpu)
	exp_usage=$(proc_usage "$EXPORT_PID") || die "export exited early: $(tail -n 20 "$WORK/lat-export.log")"
	imp_usage=$(proc_usage "$IMPORT_PID") || die "import exited early: $(tail -n 20 "$WORK/lat-import.log")"
	stop_follow export "$EXPORT_PID"
	EXPORT_PID=
	stop_follow import "$IMPORT_PID"
	IMPORT_PID=
	stop_clusters
	[[ -s $WORK/latency.out ]] || die "bench/latency exited with $rc and no result"

	# latency.out is one line of key=value pairs.
	local kv line
	kv=$(tr ' ' '\n' <"$WORK/latency.out")
	val() { sed -n "s/^$1=//p" <<<"$kv"; }
	if ((rc != 0)) || (($(val p50_ms) > 3000)) || (($(val p99_ms) > 10000)); then LAT_VERDICT=FAIL; fi
	line=$(awk -v rec="$(val records)" -v miss="$(val missing)" -v dup="$(val duplicates)" -v rate="$(val rate)" \
		-v p50="$(val p50_ms)" -v p90="$(val p90_ms)" -v p99="$(val p99_ms)" -v mx="$(val max_ms)" \
		-v p="$P" -v e="$exp_usage" -v i="$imp_usage" -v k=$((k1 - k0)) -v hz="$(getconf CLK_TCK)" -v verdict="$LAT_VERDICT" '
		BEGIN {
			split(e, eu, " "); split(i, iu, " ")
			printf "| %d | %.0f | %d | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f / %.0f | %.2f / %.0f | %.2f | %s |", rec, rate, p, miss, dup,
				p50 / 1000, p90 / 1000, p99 / 1000, mx / 1000, eu[1], eu[2], iu[1], iu[2], k / hz, verdict
		}')
	{
		[[ -s $table ]] && echo
		echo "kferry latency $(date -u +%FT%TZ) ($rev, $($GO env GOVERSION)): export --follow --rotate-interval 1s and"
		echo "import --follow --poll-interval 1s through file://, topic lat → lat-copy on one cluster ($BROKER_DESC);"
		echo "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
		echo
		echo "| records | records/s | partitions | missing | duplicates | p50 s | p90 s | p99 s | max s | export CPU s / peak MiB | import CPU s / peak MiB | broker CPU s | p50 ≤ 3 s, p99 ≤ 10 s |"
		echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
		echo "$line"
		echo
		echo "Latency: arrival on lat-copy (read_committed) minus produce time on lat, both taken by bench/latency."
	} >>"$table"
	printf '%s\t%s\t%s\n' "$stamp" "$rev" "$(cat "$WORK/latency.out") verdict=$LAT_VERDICT" >>"$RESULTS/latency.tsv"
	log "latency: $(cat "$WORK/latency.out") $LAT_VERDICT"
	((rc == 0)) || log "bench/latency exited with $rc"
}

# migrate: the latency step's measurement through one `migrate --follow`
# process from one cluster to another, whose importer wakes for each object its
# exporter completes.
migrate_latency() {
	local url=file://$WORK/mig-bucket rc=0 usage kv line
	start_cluster lat
	start_target_cluster
	rm -rf "$WORK/mig-bucket"
	env $(profile "latency-migrate") "$WORK/kferry" migrate --follow --source-brokers "$BROKERS" --target-brokers "$TARGET_BROKERS" \
		--topics lat --rename lat=lat-copy --via "$url" --rotate-interval 1s --log-format text >"$WORK/lat-migrate.log" 2>&1 &
	EXPORT_PID=$!
	log "migrate latency: $LAT_RATE records/s into lat for $LAT_DURATION (migrate pid $EXPORT_PID)"
	timeout -k 10 "$STEP_TIMEOUT" "$WORK/latency" -brokers "$BROKERS" -target-brokers "$TARGET_BROKERS" -source lat \
		-target lat-copy -partitions "$P" -rate "$LAT_RATE" -duration "$LAT_DURATION" >"$WORK/migrate.out" 2>"$WORK/migrate.log" || rc=$?
	cat "$WORK/migrate.log" >&2
	usage=$(proc_usage "$EXPORT_PID") || die "migrate exited early: $(tail -n 20 "$WORK/lat-migrate.log")"
	stop_follow migrate "$EXPORT_PID"
	EXPORT_PID=
	stop_clusters
	[[ -s $WORK/migrate.out ]] || die "bench/latency exited with $rc and no result"
	kv=$(tr ' ' '\n' <"$WORK/migrate.out")
	val() { sed -n "s/^$1=//p" <<<"$kv"; }
	if ((rc != 0)) || (($(val p50_ms) > 3000)) || (($(val p99_ms) > 10000)); then LAT_VERDICT=FAIL; fi
	line=$(awk -v rec="$(val records)" -v miss="$(val missing)" -v dup="$(val duplicates)" -v rate="$(val rate)" \
		-v p50="$(val p50_ms)" -v p90="$(val p90_ms)" -v p99="$(val p99_ms)" -v mx="$(val max_ms)" -v p="$P" -v u="$usage" '
		BEGIN {
			split(u, mu, " ")
			printf "| %d | %.0f | %d | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f / %.0f |", rec, rate, p, miss, dup,
				p50 / 1000, p90 / 1000, p99 / 1000, mx / 1000, mu[1], mu[2]
		}')
	{
		[[ -s $table ]] && echo
		echo "kferry migrate latency $(date -u +%FT%TZ) ($rev): migrate --follow --rotate-interval 1s through file://,"
		echo "topic lat on one cluster → lat-copy on another (each $BROKER_DESC); $(nproc) CPUs"
		echo
		echo "| records | records/s | partitions | missing | duplicates | p50 s | p90 s | p99 s | max s | migrate CPU s / peak MiB |"
		echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		echo "$line"
	} >>"$table"
	printf '%s\t%s\t%s\n' "$stamp" "$rev" "migrate $(cat "$WORK/migrate.out")" >>"$RESULTS/latency.tsv"
	log "migrate latency: $(cat "$WORK/migrate.out")"
	((rc == 0)) || log "bench/latency exited with $rc"
}

# main runs the steps; it and the exit after it are parsed before they run, so
# editing this file during a run (bash reads scripts as it goes) cannot run a
# shifted line.
main() {
	want throughput && throughput
	# shellcheck source=bench/scale.sh
	want scale && source "$ROOT/bench/scale.sh" && scale
	want latency && latency
	want migrate && migrate_latency
	cp "$table" "$RESULTS/latest.md"
	echo
	cat "$table"
	[[ $LAT_VERDICT == PASS ]] || die "latency targets missed (p50 <= 3 s, p99 <= 10 s, no record missing or duplicated)"
}
main; exit
