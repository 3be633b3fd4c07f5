package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/kferry/kferry/bench/internal/peers"
)

// references names, per step or per tool, the runs ("step/tool") a run's
// rate is divided by: the ceilings of reads and writes, and the peers.
var references = map[string][]string{
	"export":         {"export/kcat-consume", "export/consumer-perf-test"},
	"import":         {"import/kcat-produce", "import/producer-perf-test"},
	"kferry-backup":  {"export/kcat-consume"},
	"kferry-restore": {"import/kcat-produce", "import/producer-perf-test"},
	"migrate":        {"migrate/mirrormaker2"},
}

func refsOf(r peers.Run) []string {
	if refs, ok := references[r.Tool]; ok {
		return refs
	}
	return references[r.Step]
}

func markdown(res *peers.Result, svg string) string {
	var b strings.Builder
	m := res.Meta
	fmt.Fprintf(&b, "kferry bench-peers, scale %s: Apache Kafka %s (one node; MirrorMaker 2 from %s jars), versitygw %s, kcat %s,\n",
		m["scale"], m["kafka"], m["peers_jars"], m["versitygw"], m["kcat"])
	fmt.Fprintf(&b, "%s, %s, kferry %s; %s CPUs (%s), %s MiB; JVM peers -Xmx%s; %s partitions; load before %s\n\n",
		m["java"], m["go"], m["kferry"], m["cpus"], m["cpu_model"], m["mem_mib"], m["heap"], m["partitions"], m["load_before"])
	byKey := map[string]peers.Run{}
	for _, r := range res.Runs {
		byKey[r.Key()] = r
	}
	runs := sortedRuns(res.Runs)
	b.WriteString("| step | tool | record B | records | seconds | records/s | MB/s | CPU s | peak RSS MiB | ratios (records/s) | note |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range runs {
		var ratios []string
		for _, ref := range refsOf(r) {
			base, ok := byKey[fmt.Sprintf("%s/%d", ref, r.RecordBytes)]
			if ok && base.Key() != r.Key() && base.RecordsPerS > 0 {
				ratios = append(ratios, fmt.Sprintf("%.2f× %s", r.RecordsPerS/base.RecordsPerS, base.Tool))
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %.2f | %.0f | %.1f | %.2f | %.0f | %s | %s |\n", r.Step, r.Tool, r.RecordBytes,
			r.Records, r.Seconds, r.RecordsPerS, r.MBPerS, r.CPUSeconds, r.PeakRSSMiB, strings.Join(ratios, ", "), r.Note)
	}
	if len(res.Offsets) > 0 {
		b.WriteString("\nGroup offsets after the migration (record at the target's committed offset vs the source's):\n\n")
		b.WriteString("| tool | record B | group | topic/partition | source offset | target offset | record ids source/target | verdict |\n")
		b.WriteString("|---|---:|---|---|---:|---:|---|---|\n")
		for _, o := range res.Offsets {
			fmt.Fprintf(&b, "| %s | %d | %s | %s/%d | %s | %s | %s | %s |\n", o.Tool, o.RecordBytes, o.Group, o.Topic,
				o.Partition, o.SourceOffset, o.TargetOffset, o.Records, o.Verdict)
		}
		b.WriteString("\n" + verdictLine(res) + "\n")
	}
	latencyTable(&b, res)
	if len(res.Notes) > 0 {
		b.WriteString("\nNotes:\n\n")
		for _, n := range res.Notes {
			b.WriteString("- " + n + "\n")
		}
	}
	if svg != "" {
		fmt.Fprintf(&b, "\n![records/s per tool and offset exactness](%s)\n", svg)
	}
	return b.String()
}

// verdictLine sums the offsets: "kferry-migrate: 10 exact; mirrormaker2: ...".
func verdictLine(res *peers.Result) string {
	v := res.Verdicts()
	tools := make([]string, 0, len(v))
	for t := range v {
		tools = append(tools, t)
	}
	sort.Strings(tools)
	parts := make([]string, 0, len(tools))
	for _, t := range tools {
		var c []string
		for _, k := range verdictOrder {
			if v[t][k] > 0 {
				c = append(c, fmt.Sprintf("%d %s", v[t][k], k))
			}
		}
		parts = append(parts, t+": "+strings.Join(c, ", "))
	}
	return "Offset exactness: " + strings.Join(parts, "; ") + "."
}

var verdictOrder = []string{"exact", "ahead", "behind", "missing"}

// stepOrder is the order of the tables and charts.
var stepOrder = map[string]int{"export": 0, "import": 1, "backup": 2, "migrate": 3, "connect": 4}

// sortedRuns orders runs by record size, then step, keeping the run order
// within a step.
func sortedRuns(runs []peers.Run) []peers.Run {
	out := slices.Clone(runs)
	slices.SortStableFunc(out, func(a, b peers.Run) int {
		if a.RecordBytes != b.RecordBytes {
			return b.RecordBytes - a.RecordBytes
		}
		return stepOrder[a.Step] - stepOrder[b.Step]
	})
	return out
}

func latencyTable(b *strings.Builder, res *peers.Result) {
	if len(res.Latency) == 0 {
		return
	}
	b.WriteString("\nFollow-mode latency (arrival on the target minus produce time on the source, bench/latency):\n\n")
	b.WriteString("| tool | records/s | records | missing | duplicates | p50 s | p90 s | p99 s | max s | CPU s | peak RSS MiB |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range res.Latency {
		fmt.Fprintf(b, "| %s | %.0f | %d | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f |\n", l.Tool, l.Rate, l.Records,
			l.Missing, l.Duplicates, float64(l.P50Ms)/1000, float64(l.P90Ms)/1000, float64(l.P99Ms)/1000,
			float64(l.MaxMs)/1000, l.CPUSeconds, l.PeakRSSMiB)
	}
}
