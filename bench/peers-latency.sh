# shellcheck shell=bash
# The latency step of make bench-peers (sourced by bench/peers.sh): follow-mode
# end-to-end latency of kferry migrate --follow (--rotate-interval
# BENCH_PEERS_ROTATE, 1s; records reach the target through --direct, on by
# default, before their object rotates) and of
# MirrorMaker 2 (as in the migrate step), each between two fresh one-node
# clusters, while bench/latency produces BENCH_PEERS_LATENCY_RATE records/s
# (1000) round-robin into topic lat on the source for BENCH_PEERS_LATENCY_DURATION
# (60s; 20s when small) and reads lat on the target (read_committed). A record's
# latency is its arrival on the target minus its produce time on the source, on
# bench/latency's one clock. The tool's CPU and peak RSS are read from /proc
# before it is stopped.

LAT_RATE=${BENCH_PEERS_LATENCY_RATE:-1000}
LAT_ROTATE=${BENCH_PEERS_ROTATE:-1s}
if [[ $SCALE == small ]]; then LAT_DURATION=${BENCH_PEERS_LATENCY_DURATION:-20s}; else LAT_DURATION=${BENCH_PEERS_LATENCY_DURATION:-60s}; fi

# latency_run TOOL PID: bench/latency against the running TOOL (PID); appends
# a latency.tsv row: tool, the probe's key=value line, CPU s, peak RSS KiB.
latency_run() {
	local tool=$1 pid=$2 rc=0 usage
	log "latency/$tool: $LAT_RATE records/s into lat for $LAT_DURATION"
	timeout -k 10 "$STEP_TIMEOUT" "$WORK/latency" -brokers "$LSRC_BROKERS" -target-brokers "$LTGT_BROKERS" \
		-source lat -target lat -partitions "$P" -rate "$LAT_RATE" -duration "$LAT_DURATION" \
		>"$WORK/latency-$tool.out" 2>"$WORK/latency-$tool.log" || rc=$?
	usage=$(proc_usage "$pid")
	if [[ ! -s $WORK/latency-$tool.out ]]; then
		note "latency/$tool: bench/latency exited with $rc and no result: $(tail -n 1 "$WORK/latency-$tool.log")"
		return 0
	fi
	((rc == 0)) || note "latency/$tool: bench/latency exited with $rc (records missing or duplicated)"
	printf '%s\t%s\t%s\t%s\n' "$tool" "$(cat "$WORK/latency-$tool.out")" "${usage% *}" "${usage#* }" >>"$WORK/latency.tsv"
	log "latency/$tool: $(cat "$WORK/latency-$tool.out")"
}

latency_clusters() {
	start_kafka LSRC "lat:$P"
	start_kafka LTGT
}

latency_step() {
	local pid
	latency_clusters
	"$WORK/kferry" migrate --follow --source-brokers "$LSRC_BROKERS" --target-brokers "$LTGT_BROKERS" --topics lat \
		--via "$(bucket_url latency-migrate)" --rotate-interval "$LAT_ROTATE" --log-format text >"$WORK/latency-migrate.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	note "latency/kferry-migrate-follow: --rotate-interval $LAT_ROTATE"
	latency_run kferry-migrate-follow "$pid"
	stop_pid "$pid"
	stop_kafka LSRC
	stop_kafka LTGT
	[[ -n $PEERS_VERSION ]] || { note "latency/mm2: skipped: MirrorMaker 2's jars did not resolve"; return 0; }
	latency_clusters
	BROKERS=$LSRC_BROKERS TGT_BROKERS=$LTGT_BROKERS mm2_config lat >"$WORK/mm2-latency.properties"
	"$JAVA" "${PEERS_JVM[@]}" org.apache.kafka.connect.mirror.MirrorMaker "$WORK/mm2-latency.properties" --clusters B \
		>"$WORK/mm2-latency.log" 2>&1 </dev/null &
	pid=$!
	PIDS+=("$pid")
	latency_run mirrormaker2 "$pid"
	stop_pid "$pid"
	stop_kafka LSRC
	stop_kafka LTGT
}
