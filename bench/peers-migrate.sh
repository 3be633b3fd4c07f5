# shellcheck shell=bash
# The migrate step of make bench-peers (sourced by bench/peers.sh): kferry
# migrate (one-shot) and MirrorMaker 2 each copy the same two source topics to
# a fresh one-node target cluster:
#   src-<size>  the kcat-loaded records (no transactions)
#   txn-<size>  the same records written by kferry import exactly once from an
#               export with small objects, so the partitions hold transaction
#               markers between records
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

# check_target SIZE N: both topics complete on the target.
check_target() {
	local t got
	for t in "src-$1" "txn-$1"; do
		got=$(count_topic "$TGT_BROKERS" "$t")
		[[ $got == "$2" ]] || die "target $t holds $got records, want $2"
	done
}

kferry_migrate() { # SIZE N
	local size=$1 n=$2
	start_kafka TGT
	measure migrate kferry-migrate "$size" $((2 * n)) /dev/null "$WORK/kferry" migrate --source-brokers "$BROKERS" \
		--target-brokers "$TGT_BROKERS" --topics "src-$size,txn-$size" --via "$(bucket_url "migrate-$size")" \
		--groups 'peers-g-.*' --report "$WORK/report.json" --log-format text
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
	for t in "src-$1" "txn-$1"; do
		for ((p = 0; p < P; p++)); do
			e=$(end_offset "$TGT_BROKERS" "$t" "$p")
			[[ $e =~ ^[0-9]+$ ]] && sum=$((sum + e))
		done
	done
	echo "$sum"
}

mirror_maker() { # SIZE N
	local size=$1 n=$2 pid t0 t1 deadline usage secs synced=0
	[[ -n $PEERS_VERSION ]] || { note "migrate/mm2: skipped: MirrorMaker 2's jars did not resolve"; return 0; }
	start_kafka TGT
	mm2_config "src-$size,txn-$size" >"$WORK/mm2.properties"
	log "migrate/mm2/$size: MirrorMaker 2 ($PEERS_VERSION jars), dedicated mode"
	t0=$(date +%s%N)
	"$JAVA" "${PEERS_JVM[@]}" org.apache.kafka.connect.mirror.MirrorMaker "$WORK/mm2.properties" --clusters B \
		>"$WORK/mm2.log" 2>&1 </dev/null &
	pid=$!
	PIDS+=("$pid")
	deadline=$((SECONDS + STEP_TIMEOUT))
	while (($(target_records "$size") < 2 * n)); do
		kill -0 "$pid" 2>/dev/null || die "MirrorMaker 2 exited: $(grep -m3 -E 'ERROR|Exception' "$WORK/mm2.log")"
		((SECONDS < deadline)) || die "MirrorMaker 2 copied $(target_records "$size") of $((2 * n)) records in ${STEP_TIMEOUT}s"
		sleep 0.5
	done
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
	row migrate mirrormaker2 "$size" $((2 * n)) "$secs" "${usage% *}" "$(proc_usage "$pid" | cut -d' ' -f2)" \
		"time to the last record; $PEERS_VERSION jars, tasks.max=$(nproc)"
	compare_groups mirrormaker2 "$size"
	stop_pid "$pid"
	stop_kafka TGT
}

migrate_step() { # SIZE N
	make_txn_topic "$1" "$2"
	commit_groups "$1"
	kferry_migrate "$1" "$2"
	mirror_maker "$1" "$2"
}
