#!/usr/bin/env bash
# make bench-peers (issue 14): kferry next to what users run today, on one real
# Apache Kafka broker (test/kafkaserver, newest 4.x the harness installs) and
# versitygw (a real S3 server, as scripts/test-env.sh starts it), all on
# 127.0.0.1, with the same generated data for every tool: records of
# BENCH_PEERS_SIZES bytes (1 KiB and 100 B), keyed (key-<n>), with two headers,
# loaded by kcat -P into topic src-<size>.
#
# Steps (BENCH_PEERS_STEPS, default "export import backup migrate connect latency"):
#   export   kcat -C -e (ceiling), ConsumerPerformance (kafka-consumer-perf-test),
#            kferry export --format json and --format bytes (keys and headers
#            stored too) to the bucket.
#   import   kcat -P (the load itself, idempotent, acks=all: the ceiling),
#            ProducerPerformance (kafka-producer-perf-test, acks=all, idempotent,
#            values only: it cannot send keys or headers), kferry import of the
#            bytes export, exactly once and --at-least-once.
#   backup   kferry backup to the bucket and restore into a new topic.
#   migrate  kferry migrate (one-shot) vs MirrorMaker 2 (dedicated mode,
#            IdentityReplicationPolicy, group offset sync at 1 s) to a second
#            cluster: time until the target holds every record, and group offset
#            exactness across transaction markers and compaction (bench/peers-migrate.sh).
#   connect  Kafka Connect standalone + Aiven's S3 sink (bench/peers-connect.sh).
#   latency  follow-mode latency p50/p99 of kferry migrate --follow and MirrorMaker 2
#            at a fixed rate (bench/peers-latency.sh, bench/latency).
# A peer that cannot run is skipped with a one-line reason; the run goes on.
#
# Each tool is measured as its own process(es): wall seconds start to exit (or,
# for MM2, start until the target holds every record), records/s, MB/s (value
# bytes, 10^6), CPU seconds (user+system) and peak RSS (GNU time, or /proc for
# background JVMs). Results: bench/results/peers-<stamp>.json (kept in git:
# compare two with `go run ./bench/compare A.json B.json`), .md (tables) and
# .svg (charts), written by bench/peersreport.
#
# Environment: BENCH_PEERS_SCALE=small (a few minutes: 50,000 records of 1 KiB
# and 200,000 of 100 B; default 500,000 and 2,000,000), BENCH_PEERS_RECORDS
# (overrides both counts), BENCH_PEERS_SIZES ("1024 100"), BENCH_PEERS_STEPS,
# BENCH_PARTITIONS (6), BENCH_KAFKA_VERSION (4.4.0, else 4.1.2 if 4.4.0 does not
# install), BENCH_PEERS_HEAP (JVM peers' -Xmx, 512m), BENCH_TIMEOUT seconds per
# tool (900), BENCH_KEEP=1 keeps the work folder, BENCH_KFERRY=path,
# BENCH_PEERS_PROFILE=1, BENCH_PEERS_LATENCY_RATE, BENCH_PEERS_LATENCY_DURATION.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=$ROOT/bench/results
GO=${GO:-go}
P=${BENCH_PARTITIONS:-6}
SIZES=${BENCH_PEERS_SIZES:-1024 100}
STEPS=${BENCH_PEERS_STEPS:-export import backup migrate connect latency}
STEP_TIMEOUT=${BENCH_TIMEOUT:-900}
HEAP=${BENCH_PEERS_HEAP:-512m}
SCALE=${BENCH_PEERS_SCALE:-full}
STAMP=$(date +%Y%m%d-%H%M%S)
# BENCH_PEERS_PROFILE=1: every kferry step writes a CPU profile (KFERRY_CPUPROFILE)
# into bench/results/profiles-<stamp>/ (gitignored; go tool pprof -top FILE).
PROFILE=${BENCH_PEERS_PROFILE:-0}
PROFILES=$RESULTS/profiles-$STAMP

log() { printf '%s peers: %s\n' "$(date +%T)" "$*" >&2; }
# die: the run stops; the results so far are still written (cleanup), with the
# reason among the notes.
die() {
	log "$*"
	[[ -d ${WORK:-} ]] && printf 'run stopped: %s\n' "$*" >>"$WORK/notes.txt"
	exit 1
}
want() { [[ " $STEPS " == *" $1 "* ]]; }
for s in $STEPS; do
	[[ " export import backup migrate connect latency " == *" $s "* ]] || die "BENCH_PEERS_STEPS: unknown step $s"
done

# records SIZE: how many records of SIZE bytes the run uses.
records() {
	if [[ -n ${BENCH_PEERS_RECORDS:-} ]]; then echo "$BENCH_PEERS_RECORDS"; return; fi
	local small=0
	[[ $SCALE == small ]] && small=1
	if (($1 >= 1000)); then echo $((small ? 50000 : 500000)); else echo $((small ? 200000 : 2000000)); fi
}

# shellcheck source=scripts/lib/go-installed.sh
. "$ROOT/scripts/lib/go-installed.sh"
for tool in kcat java mvn; do command -v $tool >/dev/null || die "$tool is missing (scripts/test-env.sh installs kcat, java and mvn)"; done
[[ -x /usr/bin/time ]] || die "GNU time is missing: apt-get install -y time"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kferry-peers.XXXXXX")
PIDS=()     # every background process this script started; cleanup stops them
REPORTED= # set once the results are written
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ -z $REPORTED && -s $WORK/runs.tsv ]]; then write_results || true; fi
	if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stop_pid PID: SIGTERM, up to 20 s, then SIGKILL; forgets it.
stop_pid() {
	kill -TERM "$1" 2>/dev/null || true
	for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	local keep=() p
	for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# note TEXT: a line for the closing notes (and the JSON's notes).
note() { log "note: $*"; printf '%s\n' "$*" >>"$WORK/notes.txt"; }

# row STEP TOOL SIZE RECORDS SECONDS CPU_S RSS_KB [NOTE]: one measured run.
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "${8:-}" >>"$WORK/runs.tsv"; }

# own_rate STEP TOOL SIZE NOTE_PREFIX: appends to the last run's note the rate
# a perf tool printed itself (its measured interval, without the JVM's start).
own_rate() {
	local file=$WORK/m-$1-$2-$3.out rate
	rate=$(awk -F', *' '/records sent/ {split($2, a, " "); r = a[1]} NF >= 6 && $6 ~ /^[0-9.]+$/ {r = $6} END {print r}' "$file")
	[[ -n $rate ]] || return 0
	sed -i "\$ s/\t\$/\t$4 $rate records\/s by its own clock (without JVM start)/" "$WORK/runs.tsv"
}

# measure STEP TOOL SIZE RECORDS STDIN CMD...: CMD under GNU time with a timeout;
# a failure stops the run, or with MEASURE_SOFT=1 is noted and returns 1.
measure() {
	local step=$1 tool=$2 size=$3 n=$4 in=$5
	shift 5
	local file=$WORK/m-$step-$tool-$size rc=0 t0 t1 pre=() v0 v1
	if [[ $PROFILE == 1 && $tool == kferry-* ]]; then
		mkdir -p "$PROFILES"
		pre=(env "KFERRY_CPUPROFILE=$PROFILES/$step-$tool-$size.pprof")
	fi
	log "$step/$tool/$size: $*"
	v0=$(vgw_ticks)
	t0=$(date +%s%N)
	timeout -k 10 "$STEP_TIMEOUT" /usr/bin/time -v -o "$file.time" "${pre[@]}" "$@" <"$in" >"$file.out" 2>"$file.log" || rc=$?
	t1=$(date +%s%N)
	v1=$(vgw_ticks)
	if ((rc != 0)); then
		tail -n 20 "$file.log" >&2 || true
		local why
		why="$step/$tool/$size exited with $rc: $(grep -v '^ ' "$file.log" | tail -n 1 || true)"
		# MEASURE_SOFT=1: the caller goes on without this tool's result.
		if [[ ${MEASURE_SOFT:-0} == 1 ]]; then note "$why"; return 1; fi
		die "$why"
	fi
	local rss cpu secs
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$file.time")
	cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$file.time")
	secs=$(awk -v ns=$((t1 - t0)) 'BEGIN {printf "%.3f", ns / 1e9}')
	local vnote=
	if [[ $tool == kferry-* ]]; then # the bucket's server works for kferry, not for kcat or the perf tools
		vnote=$(awk -v t=$((v1 - v0)) -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "S3 server (versitygw) CPU %.2f s", t / hz}')
	fi
	row "$step" "$tool" "$size" "$n" "$secs" "$cpu" "$rss" "$vnote"
	log "$step/$tool/$size: ${secs}s, $(awk -v s="$secs" -v n="$n" 'BEGIN {printf "%.0f", n / s}') records/s, peak RSS $((rss / 1024)) MiB"
}

# vgw_ticks prints the CPU ticks versitygw has used so far.
vgw_ticks() { awk '{print $14 + $15}' "/proc/$VGW_PID/stat" 2>/dev/null || echo 0; }

# proc_usage PID prints "CPU_S PEAK_RSS_KB" of a running process and its children
# that are still alive (from /proc).
proc_usage() {
	local pids ticks kb
	pids=$(pgrep -P "$1" | tr '\n' ' ')
	ticks=$(for p in $1 $pids; do cat "/proc/$p/stat" 2>/dev/null; done | awk '{s += $14 + $15} END {print s + 0}')
	kb=$(for p in $1 $pids; do cat "/proc/$p/status" 2>/dev/null; done | awk '/VmHWM/ {s += $2} END {print s + 0}')
	awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v kb="$kb" 'BEGIN {printf "%.2f %d", t / hz, kb}'
}

# reported FILE prints the records count of a kferry --report file.
reported() { awk -F'[:,]' '/^  "records":/ {gsub(/ /, "", $2); print $2; exit}' "$1"; }
check_report() { # FILE WHAT WANT
	local got
	got=$(reported "$1")
	[[ $got == "$3" ]] || die "$2 reported $got records, want $3"
}

# count_topic BROKERS TOPIC prints how many records kcat reads (read_committed).
count_topic() {
	timeout "$STEP_TIMEOUT" kcat -C -b "$1" -t "$2" -e -o beginning -q -X isolation.level=read_committed -f 'x\n' | wc -l
}

# gen_data SIZE N: $WORK/data-SIZE.tsv (key TAB value, value SIZE bytes of JSON
# with a unique id) and $WORK/payload-SIZE.txt (the first 10,000 values, for
# ProducerPerformance --payload-file).
gen_data() {
	awk -v n="$2" -v size="$1" 'BEGIN {
		pad = ""
		while (length(pad) < size) pad = pad "abcdefghijklmnopqrstuvwxyz0123456789"
		for (i = 0; i < n; i++) {
			h = sprintf("{\"id\":%d,\"pad\":\"", i)
			printf "key-%d\t%s%s\"}\n", i, h, substr(pad, 1, size - length(h) - 2)
		}
	}' >"$WORK/data-$1.tsv"
	head -n 10000 "$WORK/data-$1.tsv" | cut -f2 >"$WORK/payload-$1.txt"
}

# shellcheck source=bench/peers-env.sh
. "$ROOT/bench/peers-env.sh"
# shellcheck source=bench/peers-migrate.sh
. "$ROOT/bench/peers-migrate.sh"
# shellcheck source=bench/peers-connect.sh
. "$ROOT/bench/peers-connect.sh"
# shellcheck source=bench/peers-latency.sh
. "$ROOT/bench/peers-latency.sh"

# kcat_load SIZE N TOPIC: the data into TOPIC, measured as import/kcat-produce.
kcat_load() {
	measure import kcat-produce "$1" "$2" "$WORK/data-$1.tsv" kcat -P -b "$BROKERS" -t "$3" -K '\t' \
		-H origin=kferry-bench -H size="$1" -X acks=all -X enable.idempotence=true
	local got
	got=$(count_topic "$BROKERS" "$3")
	[[ $got == "$2" ]] || die "kcat loaded $got records into $3, want $2"
}

export_step() { # SIZE N
	local size=$1 n=$2 f
	measure export kcat-consume "$size" "$n" /dev/null kcat -C -b "$BROKERS" -t "src-$size" -e -o beginning -q
	measure export consumer-perf-test "$size" "$n" /dev/null "$JAVA" "${HARNESS_JVM[@]}" \
		org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$BROKERS" --topic "src-$size" \
		--messages "$n" --timeout 60000 --group "peers-perf-$size"
	own_rate export consumer-perf-test "$size" "ConsumerPerformance:"
	for f in json bytes; do
		measure export "kferry-export-$f" "$size" "$n" /dev/null "$WORK/kferry" export --brokers "$BROKERS" \
			--topics "src-$size" --to "$(bucket_url "export-$f-$size")" --format "$f" --store-keys --store-headers \
			--report "$WORK/report.json" --log-format text
		check_report "$WORK/report.json" "export --format $f" "$n"
	done
}

import_step() { # SIZE N (after export_step: imports its bytes export)
	local size=$1 n=$2 mode flags
	measure import producer-perf-test "$size" "$n" /dev/null "$JAVA" "${HARNESS_JVM[@]}" \
		org.apache.kafka.tools.ProducerPerformance --topic "pp-$size" --num-records "$n" \
		--payload-file "$WORK/payload-$size.txt" --throughput -1 \
		--producer-props "bootstrap.servers=$BROKERS" acks=all enable.idempotence=true
	own_rate import producer-perf-test "$size" "ProducerPerformance:"
	for mode in eos alo; do
		flags=()
		[[ $mode == alo ]] && flags=(--at-least-once)
		measure import "kferry-import-$mode" "$size" "$n" /dev/null "$WORK/kferry" import --brokers "$BROKERS" \
			--from "$(bucket_url "export-bytes-$size")" --rename "src-$size=imp-$mode-$size" "${flags[@]}" \
			--report "$WORK/report.json" --log-format text
		check_report "$WORK/report.json" "import ($mode)" "$n"
	done
}

backup_step() { # SIZE N
	local size=$1 n=$2
	measure backup kferry-backup "$size" "$n" /dev/null "$WORK/kferry" backup --brokers "$BROKERS" \
		--topics "src-$size" --groups 'none' --to "$(bucket_url "backup-$size")" --report "$WORK/report.json" --log-format text
	check_report "$WORK/report.json" backup "$n"
	measure backup kferry-restore "$size" "$n" /dev/null "$WORK/kferry" restore --brokers "$BROKERS" \
		--from "$(bucket_url "backup-$size")" --rename "src-$size=rst-$size" --report "$WORK/report.json" --log-format text
	check_report "$WORK/report.json" restore "$n"
}

# one_size SIZE: every step on one fresh source cluster.
one_size() {
	local size=$1 n
	n=$(records "$size")
	log "size $size B: $n records, $P partitions"
	gen_data "$size" "$n"
	start_kafka SRC "src-$size:$P" "pp-$size:$P"
	kcat_load "$size" "$n" "src-$size"
	if want export || want import; then export_step "$size" "$n"; fi
	want import && import_step "$size" "$n"
	want backup && backup_step "$size" "$n"
	want migrate && migrate_step "$size" "$n"
	want connect && connect_step "$size" "$n"
	stop_kafka SRC
}

main() {
	setup_env
	: >"$WORK/runs.tsv"
	: >"$WORK/offsets.tsv"
	: >"$WORK/latency.tsv"
	touch "$WORK/notes.txt"
	local size
	for size in $SIZES; do one_size "$size"; done
	want latency && latency_step
	write_results
	cat "$RESULTS/peers-$STAMP.md"
}

# write_results: the JSON, Markdown and SVG of what was measured so far.
write_results() {
	local out=$RESULTS/peers-$STAMP
	REPORTED=1
	mkdir -p "$RESULTS"
	touch "$WORK/offsets.tsv" "$WORK/latency.tsv" "$WORK/notes.txt" "$WORK/meta.txt"
	"$WORK/peersreport" -runs "$WORK/runs.tsv" -offsets "$WORK/offsets.tsv" -latency "$WORK/latency.tsv" -notes "$WORK/notes.txt" \
		-meta "$WORK/meta.txt" -json "$out.json" -md "$out.md" -svg "$out.svg"
	log "results: $out.json, $out.md, $out.svg"
}
main; exit
