// Command compare prints two make bench-peers result files (bench/results/
// peers-*.json) side by side: for every tool, step and record size in either,
// records/s, CPU seconds and peak RSS of both runs and the ratio new ÷ old,
// then each migration tool's group offset verdicts.
//
//	go run ./bench/compare bench/results/peers-OLD.json bench/results/peers-NEW.json
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/kferry/kferry/bench/internal/peers"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: compare OLD.json NEW.json")
		os.Exit(2)
	}
	if err := run(os.Stdout, os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, oldPath, newPath string) error {
	a, err := peers.Load(oldPath)
	if err != nil {
		return err
	}
	b, err := peers.Load(newPath)
	if err != nil {
		return err
	}
	out := &printer{w: w}
	out.printf("old: %s (kferry %s, Kafka %s, scale %s, %s CPUs)\n", oldPath, a.Meta["kferry"], a.Meta["kafka"], a.Meta["scale"], a.Meta["cpus"])
	out.printf("new: %s (kferry %s, Kafka %s, scale %s, %s CPUs)\n\n", newPath, b.Meta["kferry"], b.Meta["kafka"], b.Meta["scale"], b.Meta["cpus"])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	tab := &printer{w: tw}
	tab.printf("step/tool/record B\trecords/s old\tnew\tnew÷old\tCPU s old\tnew\tRSS MiB old\tnew\t\n")
	olds, news := index(a.Runs), index(b.Runs)
	for _, k := range keys(olds, news) {
		o, okO := olds[k]
		n, okN := news[k]
		tab.printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", k,
			num(okO, o.RecordsPerS, "%.0f"), num(okN, n.RecordsPerS, "%.0f"), ratio(okO && okN, n.RecordsPerS, o.RecordsPerS),
			num(okO, o.CPUSeconds, "%.2f"), num(okN, n.CPUSeconds, "%.2f"),
			num(okO, o.PeakRSSMiB, "%.0f"), num(okN, n.PeakRSSMiB, "%.0f"))
	}
	if tab.err != nil {
		return tab.err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range []struct {
		name string
		res  *peers.Result
	}{{"old", a}, {"new", b}} {
		v := r.res.Verdicts()
		tools := make([]string, 0, len(v))
		for t := range v {
			tools = append(tools, t)
		}
		sort.Strings(tools)
		for _, tool := range tools {
			c := v[tool]
			out.printf("%s offsets %s: %d exact, %d ahead, %d behind, %d missing\n", r.name, tool,
				c["exact"], c["ahead"], c["behind"], c["missing"])
		}
	}
	for _, r := range []struct {
		name string
		res  *peers.Result
	}{{"old", a}, {"new", b}} {
		for _, l := range r.res.Latency {
			out.printf("%s latency %s at %.0f records/s: p50 %d ms, p99 %d ms, %d missing, %d duplicates\n",
				r.name, l.Tool, l.Rate, l.P50Ms, l.P99Ms, l.Missing, l.Duplicates)
		}
	}
	return out.err
}

// printer keeps the first write error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func index(runs []peers.Run) map[string]peers.Run {
	m := make(map[string]peers.Run, len(runs))
	for _, r := range runs {
		m[r.Key()] = r
	}
	return m
}

// keys is the union of both runs' keys, sorted.
func keys(a, b map[string]peers.Run) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]peers.Run{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

func num(ok bool, v float64, format string) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

func ratio(ok bool, n, o float64) string {
	if !ok || o == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", n/o)
}
