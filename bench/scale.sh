# shellcheck shell=bash
# The scale step of make bench (sourced by bench/run.sh, whose helpers it uses):
# the scenarios of issue 12, each next to kcat on the same data in the same run.
#
#   a  2,000 partitions × 50 records of 200 B (one topic, 100,000 records)
#   b  2,000,000 records of 100 B over 9 partitions
#   c  1,000 topics × 10 partitions × 100 records of 200 B (whole cluster:
#      export and backup take --topic-regex '.*')
#
# BENCH_SCALE=small divides them (a: 200 partitions, b: 200,000 records,
# c: 100 topics × 10 partitions × 10 records) so that the whole of make bench stays near a
# minute. BENCH_SCENARIOS picks some ("a b c"); BENCH_REPEAT runs every step
# that many times (3; 1 when small) and the table keeps the fastest time and the
# highest peak RSS. BENCH_SCALE_STEPS="reads" skips the write steps (import,
# restore), "writes" the reads but for the export and backup the writes need.
#
# Per scenario:
#   1. a fresh cluster with the scenario's topics created; kcat -P (idempotent,
#      acks=all, sticky.partitioning.linger.ms=0 so that records spread over all
#      partitions) loads them: that is the kcat produce time. For c, one kcat per
#      topic, one after the other (kcat produces to one topic per process).
#   2. on that cluster: kcat -C -e (c: one kcat -G group member subscribed to
#      the regex), kferry export --format F for each of BENCH_SCALE_FORMATS,
#      kferry backup.
#   3. every write step runs on a fresh cluster with the same topics created
#      and empty, as kcat's produce did: kcat produce again (repeats), kferry
#      import from the bytes export (exactly once, then --at-least-once) and
#      kferry restore of the backup (both modes). Every kferry step's --report
#      must count all the records.
# The table gives each step's time ÷ kcat's (consume for reads, produce for
# writes) with the issue's targets: reads ≤ 1.2×, exactly-once writes ≤ 1.5×,
# at-least-once writes ≤ 1.0×, peak RSS ≤ 256 MiB.

SCALE_REPEAT=${BENCH_REPEAT:-3}
SCALE_FORMATS=${BENCH_SCALE_FORMATS:-bytes json}
SCENARIOS=${BENCH_SCENARIOS:-a b c}
SCALE_STEPS=${BENCH_SCALE_STEPS:-reads writes}
if [[ ${BENCH_SCALE:-} == small ]]; then
	SCALE_REPEAT=${BENCH_REPEAT:-1}
fi

# scenario_shape NAME sets TOPICS_N, PARTS_N, RECS_PER_TOPIC, REC_SIZE.
scenario_shape() {
	local small=0
	[[ ${BENCH_SCALE:-} == small ]] && small=1
	case $1 in
	a) TOPICS_N=1 PARTS_N=$((small ? 200 : 2000)) REC_SIZE=200
		RECS_PER_TOPIC=$((PARTS_N * 50)) ;;
	b) TOPICS_N=1 PARTS_N=9 REC_SIZE=100 RECS_PER_TOPIC=$((small ? 200000 : 2000000)) ;;
	c) TOPICS_N=$((small ? 100 : 1000)) PARTS_N=10 REC_SIZE=200 RECS_PER_TOPIC=$((small ? 100 : 1000)) ;;
	*) die "BENCH_SCENARIOS: unknown scenario $1 (a, b, c)" ;;
	esac
}

# topic_names prints the scenario's topics, one a line.
topic_names() {
	if ((TOPICS_N == 1)); then echo bench; else seq -f 't%04g' 0 $((TOPICS_N - 1)); fi
}

# scale_cluster: a fresh cluster (SERVER_PID) with the scenario's topics.
scale_cluster() {
	stop_clusters
	local t specs=()
	while read -r t; do specs+=("$t:$PARTS_N"); done < <(topic_names)
	spawn_server cluster "${specs[@]}"
	BROKERS=$SPAWNED_ADDRS BROKER_PIDS=$SPAWNED_BROKER_PIDS
}

# kcat_produce NAME: kcat -P of the scenario's records into its topics.
kcat_produce() {
	local opts=(-X acks=all -X enable.idempotence=true -X sticky.partitioning.linger.ms=0)
	if ((TOPICS_N == 1)); then
		measure "$1" "$TOTAL" "$SWORK/records.jsonl" /dev/null kcat -P -b "$BROKERS" -t bench "${opts[@]}"
		return
	fi
	# One kcat per topic; bash -c so that GNU time measures the loop (its peak
	# RSS is the largest kcat's).
	measure "$1" "$TOTAL" "$SWORK/records.jsonl" /dev/null bash -c '
		b=$1; shift
		for t in $(seq -f "t%04g" 0 $(($1 - 1))); do kcat -P -b "$b" -t "$t" "${@:2}" || exit 1; done <&-
	' _ "$BROKERS" "$TOPICS_N" -l "${opts[@]}" "$SWORK/records.jsonl"
}

# check_report FILE WHAT: the report must count TOTAL records.
check_report() {
	local got
	got=$(reported "$1")
	[[ $got == "$TOTAL" ]] || die "$2 reported $got records, want $TOTAL"
}

scale_reads() { # step 2, on the loaded cluster
	local s=$1 rep=$2 f sel=(--topics bench)
	((TOPICS_N == 1)) || sel=(--topic-regex '.*')
	if ((TOPICS_N == 1)); then
		measure "$s/kcat-consume" "$TOTAL" /dev/null /dev/null kcat -C -b "$BROKERS" -t bench -e -o beginning -q
	else
		measure "$s/kcat-consume" "$TOTAL" /dev/null /dev/null kcat -b "$BROKERS" -G "bench-kcat-$rep" \
			-X auto.offset.reset=earliest -e -q '^t[0-9]+$'
	fi
	for f in $SCALE_FORMATS; do
		rm -rf "$SWORK/export-$f"
		measure "$s/export-$f" "$TOTAL" /dev/null /dev/null env $(profile "$s-export-$f") "$WORK/kferry" export \
			--brokers "$BROKERS" "${sel[@]}" --to "file://$SWORK/export-$f" --format "$f" \
			--report "$SWORK/report.json" --log-format text
		check_report "$SWORK/report.json" "export --format $f"
	done
	rm -rf "$SWORK/backup"
	measure "$s/backup" "$TOTAL" /dev/null /dev/null env $(profile "$s-backup") "$WORK/kferry" backup \
		--brokers "$BROKERS" "${sel[@]}" --to "file://$SWORK/backup" --report "$SWORK/report.json" --log-format text
	check_report "$SWORK/report.json" backup
}

scale_writes() { # step 3, each on a fresh cluster
	local s=$1 rep=$2 mode flags
	if ((rep > 1)); then
		scale_cluster
		kcat_produce "$s/kcat-produce"
	fi
	local from=bytes
	[[ " $SCALE_FORMATS " == *" bytes "* ]] || from=${SCALE_FORMATS%% *}
	for mode in eo alo; do
		flags=()
		[[ $mode == alo ]] && flags=(--at-least-once)
		scale_cluster
		measure "$s/import-$mode" "$TOTAL" /dev/null /dev/null env $(profile "$s-import-$mode") "$WORK/kferry" import \
			--brokers "$BROKERS" --from "file://$SWORK/export-$from" "${flags[@]}" \
			--report "$SWORK/report.json" --log-format text
		check_report "$SWORK/report.json" "import ($mode)"
		scale_cluster
		measure "$s/restore-$mode" "$TOTAL" /dev/null /dev/null env $(profile "$s-restore-$mode") "$WORK/kferry" restore \
			--brokers "$BROKERS" --from "file://$SWORK/backup" "${flags[@]}" \
			--report "$SWORK/report.json" --log-format text
		check_report "$SWORK/report.json" "restore ($mode)"
	done
}

scale() {
	local s rep load_before
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	: >"$WORK/scale.tsv"
	for s in $SCENARIOS; do
		scenario_shape "$s"
		TOTAL=$((TOPICS_N * RECS_PER_TOPIC))
		SWORK=$WORK/scale-$s
		mkdir -p "$SWORK"
		log "scenario $s: $TOPICS_N topic(s) × $PARTS_N partitions, $TOTAL records of $REC_SIZE B"
		gen_records "$RECS_PER_TOPIC" "$REC_SIZE" >"$SWORK/records.jsonl"
		MEASURE_TSV=$WORK/scale.tsv
		scale_cluster
		log "$BROKER_DESC, $TOPICS_N topic(s) × $PARTS_N partitions, on $BROKERS"
		kcat_produce "$s/kcat-produce"
		if [[ " $SCALE_STEPS " == *" reads "* ]]; then
			for rep in $(seq "$SCALE_REPEAT"); do scale_reads "$s" "$rep"; done
		else
			scale_reads "$s" 1 # what the writes read from
		fi
		if [[ " $SCALE_STEPS " == *" writes "* ]]; then
			for rep in $(seq "$SCALE_REPEAT"); do scale_writes "$s" "$rep"; done
		fi
		stop_clusters
		MEASURE_TSV=
		rm -rf "$SWORK"
	done
	scale_table "$load_before" >>"$table"
	cp "$WORK/scale.tsv" "$RESULTS/scale-$stamp.tsv"
}

# scale_table LOAD_BEFORE: the markdown table of scale.tsv, best of the repeats.
scale_table() {
	local shapes="" s
	for s in $SCENARIOS; do
		scenario_shape "$s"
		shapes+="$s=$TOPICS_N×$PARTS_N×$((TOPICS_N * RECS_PER_TOPIC))×$REC_SIZE "
	done
	[[ -s $table ]] && echo
	awk -v shapes="$shapes" -v broker="$BROKER_DESC" -v rep="$SCALE_REPEAT" -v rev="$rev" \
		-v load="$1 / $(cut -d' ' -f1-3 /proc/loadavg)" -v cpus="$(nproc)" -v when="$(date -u +%FT%TZ)" '
	{
		k = $1
		if (!(k in secs)) { order[++n] = k; secs[k] = $3 / 1e9 } else if ($3 / 1e9 < secs[k]) secs[k] = $3 / 1e9
		recs[k] = $2
		if ($4 > rss[k]) rss[k] = $4
		if (!(k in cpu) || $5 < cpu[k]) cpu[k] = $5
	}
	END {
		printf "kferry scale bench %s (%s): best of %d; %s; %d CPUs, load average before / after %s\n\n", when, rev, rep, broker, cpus, load
		m = split(shapes, sh, " ")
		for (i = 1; i <= m; i++) {
			split(sh[i], kv, "="); split(kv[2], d, "×")
			printf "- %s: %s topic(s) × %s partitions, %s records of %s B\n", kv[1], d[1], d[2], d[3], d[4]
		}
		printf "\n| scenario | step | best s | records/s | peak RSS MiB | CPU s | time ÷ kcat | target |\n"
		printf "|---|---|---:|---:|---:|---:|---:|---|\n"
		verdict = "PASS"
		for (i = 1; i <= n; i++) {
			k = order[i]; split(k, part, "/"); s = part[1]; st = part[2]
			ref = ""; lim = 0
			if (st ~ /^(export|backup)/) { ref = s "/kcat-consume"; lim = 1.2 }
			if (st ~ /-eo$/) { ref = s "/kcat-produce"; lim = 1.5 }
			if (st ~ /-alo$/) { ref = s "/kcat-produce"; lim = 1.0 }
			ratio = ""; tgt = ""
			if (ref != "" && (ref in secs)) {
				r = secs[k] / secs[ref]
				ratio = sprintf("%.2f×", r)
				tgt = sprintf("≤ %.1f× %s", lim, (r <= lim ? "ok" : "MISSED"))
				if (r > lim) verdict = "MISSED"
			}
			if (st !~ /^kcat/ && rss[k] > 256 * 1024) { tgt = tgt ", RSS > 256 MiB"; verdict = "MISSED" }
			printf "| %s | %s | %.2f | %.0f | %.0f | %.2f | %s | %s |\n", s, st, secs[k], recs[k] / secs[k], rss[k] / 1024, cpu[k], ratio, tgt
		}
		printf "\nReads are compared with kcat -C -e (c: one kcat -G member on the regex), writes with kcat -P\n"
		printf "(idempotent, acks=all; c: one kcat per topic); every write step on a fresh cluster with the topics created.\n"
		printf "Peak RSS is the highest of the repeats, CPU s the lowest. Targets (issue 12): %s\n", verdict
	}' "$WORK/scale.tsv"
}
