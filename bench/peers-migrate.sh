# shellcheck shell=bash
# The migrate step of make bench-peers (sourced by bench/peers.sh): kferry
# migrate (one-shot) and MirrorMaker 2 each copy the same two source topics to
# a fresh one-node target cluster:
#   src-<size>  the kcat-loaded records (no transactions)
#   txn-<size>  the same records written by kferry import exactly once from an
#               export with small objects, so the partitions hold transaction
#               markers between records
#   cmp-<size>  a compacted topic (one partition, 1 MiB segments) of 6 MiB of
#               records, half of them over few keys, once the log cleaner has
#               removed records
#               (polled, 120 s at most; skipped with a note otherwise)
# Consumer groups peers-g-* are committed on the source at known offsets first
# (ConsumerGroupCommand --reset-offsets): mid-partition, at a partition's end,
# at a transaction marker's offset, right after one, and at the first record.
# After each tool, every group's committed offset on the target is read
# (ConsumerGroupCommand --describe) and the record there is compared with the
# source's record at the source offset: exact (the same record), ahead (the
# target group would skip records) or behind (it would read some again).
# MM2 runs dedicated (org.apache.kafka.connect.mirror.MirrorMaker --clusters B)
# with IdentityReplicationPolicy, checkpoints and group offset sync every
# second; its time is from its start until the target holds every record.

# group_cmd BROKERS ARGS...: ConsumerGroupCommand from the broker's jars.
group_cmd() {
	timeout 120 "$JAVA" "${HARNESS_JVM[@]}" org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
		--bootstrap-server "$1" "${@:2}"
}

# end_offset BROKERS TOPIC PARTITION
end_offset() {
	timeout 60 kcat -Q -b "$1" -t "$2:$3:-1" 2>/dev/null | awk 'NR == 1 {print $NF}'
}

# record_id BROKERS TOPIC PARTITION OFFSET prints the id of the first committed
# record at or after OFFSET, or "end".
record_id() {
	local v
	v=$(timeout 60 kcat -C -b "$1" -t "$2" -p "$3" -o "$4" -c 1 -e -q -f '%s\n' | sed -n 's/^{"id":\([0-9]*\),.*/\1/p')
	echo "${v:-end}"
}

# first_marker BROKERS TOPIC PARTITION: the offset of the first transaction
# marker (the first gap in the records' offsets), or -1.
first_marker() {
	# awk reads to the end: kcat must not meet a closed pipe (set -o pipefail).
	timeout 120 kcat -C -b "$1" -t "$2" -p "$3" -o beginning -e -q -f '%o\n' |
		awk 'NR > 1 && $1 != prev + 1 && m == "" {m = prev + 1} {prev = $1} END {print (m == "" ? -1 : m)}'
}

# make_txn_topic SIZE N: txn-SIZE on the source, imported exactly once from an
# export with about four objects per partition (one transaction each).
make_txn_topic() {
	local size=$1 n=$2 url
	url=$(bucket_url "txn-$size")
	"$WORK/kferry" export --brokers "$BROKERS" --topics "src-$size" --to "$url" --format bytes --store-keys \
		--store-headers --flush-size $((n / P / 4 + 1)) --log-format text >"$WORK/txn-export.log" 2>&1 ||
		die "export for txn-$size: $(tail -n 5 "$WORK/txn-export.log")"
	"$WORK/kferry" import --brokers "$BROKERS" --from "$url" --rename "src-$size=txn-$size" --log-format text \
		>"$WORK/txn-import.log" 2>&1 || die "import into txn-$size: $(tail -n 5 "$WORK/txn-import.log")"
}

# make_cmp_topic SIZE: cmp-SIZE, compacted; sets CMP_GAP (the first offset the
# cleaner removed) or leaves it empty with a note.
make_cmp_topic() {
	local size=$1 n keys deadline
	n=$((6 * 1024 * 1024 / size)) keys=$((n / 20))
	CMP_GAP=
	"$JAVA" "${HARNESS_JVM[@]}" org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKERS" --create \
		--topic "cmp-$size" --partitions 1 --replication-factor 1 --config cleanup.policy=compact \
		--config segment.bytes=1048576 --config min.cleanable.dirty.ratio=0.01 >"$WORK/cmp.log" 2>&1 ||
		die "create cmp-$size: $(tail -n 5 "$WORK/cmp.log")"
	# Every other record has a key of its own, the others share few keys: the
	# cleaner leaves gaps between the survivors all along the partition.
	awk -v k="$keys" -v n="$n" 'NR <= n {split($0, f, "\t"); if (NR % 2) printf "key-%d\t%s\n", NR, f[2]; else printf "dup-%d\t%s\n", NR % k, f[2]}' "$WORK/data-$size.tsv" |
		timeout "$STEP_TIMEOUT" kcat -P -b "$BROKERS" -t "cmp-$size" -K '\t' -X acks=all ||
		die "produce into cmp-$size"
	# The cleaner runs every 15 s (log.cleaner.backoff.ms) once a segment has rolled.
	deadline=$((SECONDS + 120))
	while ((SECONDS < deadline)); do
		CMP_GAP=$(first_marker "$BROKERS" "cmp-$size" 0)
		if ((CMP_GAP >= 0)); then
			log "migrate: cmp-$size compacted: $(count_topic "$BROKERS" "cmp-$size") of $n records left, first gap at $CMP_GAP"
			return 0
		fi
		sleep 2
	done
	CMP_GAP=
	note "migrate/$size: the log cleaner had not compacted cmp-$size within 120 s: no compacted topic"
}

# commit_groups SIZE: the groups on the source; writes $WORK/groups.tsv
# (group topic partition offset).
commit_groups() {
	local size=$1 m end mid
	m=$(first_marker "$BROKERS" "txn-$size" 0)
	((m >= 0)) || note "migrate/$size: txn-$size partition 0 holds one transaction (kferry import commits per 128 KiB of a partition): no group at a marker"
	end=$(end_offset "$BROKERS" "src-$size" 1)
	mid=$(($(end_offset "$BROKERS" "src-$size" 0) / 2))
	{
		printf 'peers-g-mid-%s\tsrc-%s\t0\t%s\n' "$size" "$size" "$mid"
		printf 'peers-g-end-%s\tsrc-%s\t1\t%s\n' "$size" "$size" "$end"
		printf 'peers-g-first-%s\tsrc-%s\t2\t0\n' "$size" "$size"
		if ((m >= 0)); then
			printf 'peers-g-marker-%s\ttxn-%s\t0\t%s\n' "$size" "$size" "$m"
			printf 'peers-g-aftermarker-%s\ttxn-%s\t0\t%s\n' "$size" "$size" "$((m + 1))"
		fi
		printf 'peers-g-txnend-%s\ttxn-%s\t1\t%s\n' "$size" "$size" "$(end_offset "$BROKERS" "txn-$size" 1)"
		if [[ -n $CMP_GAP ]]; then
			printf 'peers-g-compacted-%s\tcmp-%s\t0\t%s\n' "$size" "$size" "$CMP_GAP"
			printf 'peers-g-cmpmid-%s\tcmp-%s\t0\t%s\n' "$size" "$size" "$(($(end_offset "$BROKERS" "cmp-$size" 0) / 2))"
		fi
	} >"$WORK/groups.tsv"
	local g t p o
	while IFS=$'\t' read -r g t p o; do
		group_cmd "$BROKERS" --reset-offsets --group "$g" --topic "$t:$p" --to-offset "$o" --execute \
			>>"$WORK/groups.log" 2>&1 || die "commit $g at $t/$p@$o: $(tail -n 5 "$WORK/groups.log")"
	done <"$WORK/groups.tsv"
	log "migrate: groups committed on the source: $(cut -f1,4 "$WORK/groups.tsv" | tr '\t\n' '@ ')"
}

# target_offsets BROKERS: "group topic partition offset" of the peers-g-* groups.
target_offsets() {
	group_cmd "$1" --describe --all-groups 2>/dev/null |
		awk '$1 ~ /^peers-g-/ && $4 ~ /^[0-9]+$/ {print $1 "\t" $2 "\t" $3 "\t" $4}'
}

# compare_groups TOOL SIZE: one offsets.tsv row per group.
compare_groups() {
	local tool=$1 size=$2 have g t p o to sid tid verdict
	have=$(target_offsets "$TGT_BROKERS")
	while IFS=$'\t' read -r g t p o; do
		to=$(awk -v g="$g" -v t="$t" -v p="$p" '$1 == g && $2 == t && $3 == p {print $4}' <<<"$have")
		sid=$(record_id "$BROKERS" "$t" "$p" "$o")
		if [[ -z $to ]]; then
			verdict=missing tid=-
		else
			tid=$(record_id "$TGT_BROKERS" "$t" "$p" "$to")
			verdict=$(awk -v s="$sid" -v t="$tid" 'BEGIN {
				if (s == t) print "exact"; else if (t == "end") print "ahead"; else if (s == "end") print "behind"
				else if (t + 0 > s + 0) print "ahead"; else print "behind" }')
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$size" "$g" "$t" "$p" "$o" "${to:--}" "$sid/$tid" "$verdict" >>"$WORK/offsets.tsv"
		log "migrate/$tool: $g $t/$p source @$o (record $sid) → target @${to:--} (record $tid): $verdict"
	done <"$WORK/groups.tsv"
}

# migrate_topics SIZE: the topics both tools copy, comma-separated.
migrate_topics() {
	local t="src-$1,txn-$1"
	[[ -n ${CMP_GAP:-} ]] && t+=",cmp-$1"
	echo "$t"
}

# migrate_records SIZE N: how many records the migrated topics hold.
migrate_records() {
	local total=$((2 * $2))
	[[ -n ${CMP_GAP:-} ]] && total=$((total + $(count_topic "$BROKERS" "cmp-$1")))
	echo "$total"
}

# latest_per_key BROKERS TOPIC prints "key id" of each key's last record, sorted.
latest_per_key() {
	timeout "$STEP_TIMEOUT" kcat -C -b "$1" -t "$2" -e -o beginning -q -f '%k %s\n' |
		awk '{sub(/^\{"id":/, "", $2); sub(/,.*/, "", $2); last[$1] = $2} END {for (k in last) print k, last[k]}' | sort
}

# check_target SIZE N: every migrated topic complete on the target. The
# compacted topic is compared by each key's last record: the target's cleaner
# (the topic's configs are copied) may remove more than the source's has yet.
check_target() {
	local t got
	for t in $(migrate_topics "$1" | tr ',' ' '); do
		if [[ $t == cmp-* ]]; then
			cmp -s <(latest_per_key "$BROKERS" "$t") <(latest_per_key "$TGT_BROKERS" "$t") ||
				die "target $t: the last record of some key differs from the source's"
			continue
		fi
		got=$(count_topic "$TGT_BROKERS" "$t")
		[[ $got == "$2" ]] || die "target $t holds $got records, want $2"
	done
}

kferry_migrate() { # SIZE N
	local size=$1 n=$2
	start_kafka TGT
	# A failed migration is a finding; MirrorMaker 2 still runs.
	MEASURE_SOFT=1 measure migrate kferry-migrate "$size" "$(migrate_records "$size" "$n")" /dev/null "$WORK/kferry" migrate --source-brokers "$BROKERS" \
		--target-brokers "$TGT_BROKERS" --topics "$(migrate_topics "$size")" --via "$(bucket_url "migrate-$size")" \
		--groups 'peers-g-.*' --report "$WORK/report.json" --log-format text || { stop_kafka TGT; return 0; }
	check_target "$size" "$n"
	compare_groups kferry-migrate "$size"
	stop_kafka TGT
}

# mm2_config TOPICS: the dedicated-mode properties (TOPICS: comma-separated).
mm2_config() {
	cat <<EOF
clusters=A,B
A.bootstrap.servers=$BROKERS
B.bootstrap.servers=$TGT_BROKERS
A->B.enabled=true
B->A.enabled=false
A->B.topics=$1
A->B.groups=peers-g-.*
tasks.max=$(nproc)
replication.policy.class=org.apache.kafka.connect.mirror.IdentityReplicationPolicy
replication.factor=1
checkpoints.topic.replication.factor=1
heartbeats.topic.replication.factor=1
offset-syncs.topic.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
config.storage.replication.factor=1
sync.group.offsets.enabled=true
sync.group.offsets.interval.seconds=1
emit.checkpoints.enabled=true
emit.checkpoints.interval.seconds=1
emit.heartbeats.interval.seconds=1
refresh.topics.interval.seconds=2
refresh.groups.interval.seconds=2
sync.topic.acls.enabled=false
EOF
}

# target_records SIZE: the records on the target's two topics (end offsets:
# MM2 writes without transactions, so an end offset counts records).
target_records() {
	local t p sum=0 e
	for t in $(migrate_topics "$1" | tr ',' ' '); do
		for ((p = 0; p < P; p++)); do
			e=$(end_offset "$TGT_BROKERS" "$t" "$p")
			[[ $e =~ ^[0-9]+$ ]] && sum=$((sum + e))
		done
	done
	echo "$sum"
}

# mm2_wait PID SIZE TOTAL: until the target holds TOTAL records; returns 1
# with MM2_FAIL set when MirrorMaker 2 exits, a task of it dies (Connect does
# not restart it: the copy would never finish) or BENCH_TIMEOUT passes.
mm2_wait() {
	local deadline=$((SECONDS + STEP_TIMEOUT)) got died
	while got=$(target_records "$2") && ((got < $3)); do
		died=$(grep -m1 -A1 'Task threw an uncaught and unrecoverable exception' "$WORK/mm2.log" | tail -n1 || true)
		[[ -z $died ]] && died=$(grep -m1 'java.lang.OutOfMemoryError' "$WORK/mm2.log" || true)
		if ! kill -0 "$1" 2>/dev/null; then
			MM2_FAIL="MirrorMaker 2 exited after copying $got of $3 records: $(grep -m1 -E 'ERROR|Exception' "$WORK/mm2.log")"
			return 1
		elif [[ -n $died ]]; then
			MM2_FAIL="a MirrorMaker 2 task died after copying $got of $3 records (-Xmx$HEAP): $(grep -m1 -E '^[a-zA-Z.]+(Error|Exception)' "$WORK/mm2.log" || echo "$died")"
			return 1
		elif ((SECONDS >= deadline)); then
			MM2_FAIL="MirrorMaker 2 copied $got of $3 records in ${STEP_TIMEOUT}s"
			return 1
		fi
		sleep 0.5
	done
}

mirror_maker() { # SIZE N
	local size=$1 n=$2 pid t0 t1 deadline usage secs synced=0 total
	[[ -n $PEERS_VERSION ]] || { note "migrate/mm2: skipped: MirrorMaker 2's jars did not resolve"; return 0; }
	start_kafka TGT
	mm2_config "$(migrate_topics "$size")" >"$WORK/mm2.properties"
	log "migrate/mm2/$size: MirrorMaker 2 ($PEERS_VERSION jars), dedicated mode"
	t0=$(date +%s%N)
	"$JAVA" "${PEERS_JVM[@]}" org.apache.kafka.connect.mirror.MirrorMaker "$WORK/mm2.properties" --clusters B \
		>"$WORK/mm2.log" 2>&1 </dev/null &
	pid=$!
	PIDS+=("$pid")
	total=$(migrate_records "$size" "$n")
	if ! mm2_wait "$pid" "$size" "$total"; then
		note "migrate/mm2/$size: $MM2_FAIL"
		stop_pid "$pid"
		stop_kafka TGT
		return 0
	fi
	t1=$(date +%s%N)
	usage=$(proc_usage "$pid")
	secs=$(awk -v ns=$((t1 - t0)) 'BEGIN {printf "%.3f", ns / 1e9}')
	log "migrate/mm2/$size: ${secs}s to every record on the target (CPU s, peak RSS KiB: $usage)"
	check_target "$size" "$n"
	# Group offsets reach the target after an offset sync and a checkpoint, and
	# may move on with later syncs: wait until every group is there and none
	# moved for two reads in a row.
	local prev= cur
	deadline=$((SECONDS + 60))
	while ((SECONDS < deadline)); do
		cur=$(target_offsets "$TGT_BROKERS" | sort)
		if (($(grep -c . <<<"$cur") >= $(wc -l <"$WORK/groups.tsv"))) && [[ $cur == "$prev" ]]; then
			synced=1
			break
		fi
		prev=$cur
		sleep 2
	done
	((synced)) || note "migrate/mm2/$size: the groups' offsets on the target were not all there and steady within 60 s after the copy"
	# CPU until the copy was complete; peak RSS also over the offset sync.
	row migrate mirrormaker2 "$size" "$total" "$secs" "${usage% *}" "$(proc_usage "$pid" | cut -d' ' -f2)" \
		"time to the last record; $PEERS_VERSION jars, tasks.max=$(nproc)"
	compare_groups mirrormaker2 "$size"
	stop_pid "$pid"
	stop_kafka TGT
}

migrate_step() { # SIZE N
	make_txn_topic "$1" "$2"
	make_cmp_topic "$1"
	commit_groups "$1"
	kferry_migrate "$1" "$2"
	mirror_maker "$1" "$2"
}
