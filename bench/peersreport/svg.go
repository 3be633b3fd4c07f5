package main

import (
	"fmt"
	"html"
	"sort"
	"strings"

	"github.com/kferry/kferry/bench/internal/peers"
)

const (
	chartWidth = 1000
	labelWidth = 330
	barHeight  = 16
	rowGap     = 4
	barSpace   = chartWidth - labelWidth - 210
)

var verdictColors = map[string]string{"exact": "#2e7d32", "ahead": "#f9a825", "behind": "#c62828", "missing": "#757575"}

// chart draws one bar group per step and record size (records/s, each bar
// scaled to the group's fastest tool, kferry's bars darker) and, when the run
// migrated, the offset verdicts per tool as stacked bars.
func chart(res *peers.Result) string {
	var body strings.Builder
	y := 30
	groups, order := groupRuns(sortedRuns(res.Runs))
	for _, g := range order {
		runs := groups[g]
		maxRate := 0.0
		for _, r := range runs {
			maxRate = max(maxRate, r.RecordsPerS)
		}
		fmt.Fprintf(&body, `<text x="4" y="%d" font-weight="bold">%s: records/s</text>`+"\n", y+12, html.EscapeString(g))
		y += 20
		for _, r := range runs {
			w := 0.0
			if maxRate > 0 {
				w = r.RecordsPerS / maxRate * barSpace
			}
			color := "#90a4ae"
			if strings.HasPrefix(r.Tool, "kferry") {
				color = "#1565c0"
			}
			fmt.Fprintf(&body, `<text x="%d" y="%d" text-anchor="end">%s</text>`, labelWidth-6, y+12, html.EscapeString(r.Tool))
			fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, labelWidth, y, w, barHeight, color)
			fmt.Fprintf(&body, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(labelWidth)+w+4, y+12, human(r.RecordsPerS))
			y += barHeight + rowGap
		}
		y += 10
	}
	y = offsetBars(&body, res, y)
	y = latencyBars(&body, res, y)
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n"+
		`<rect width="100%%" height="100%%" fill="white"/>`+"\n"+
		`<text x="4" y="16" font-size="14" font-weight="bold">kferry bench-peers (Apache Kafka %s, scale %s)</text>`+"\n%s</svg>\n",
		chartWidth, y+10, html.EscapeString(res.Meta["kafka"]), html.EscapeString(res.Meta["scale"]), body.String())
}

// groupRuns groups runs by "step, N B records" in the order they ran.
func groupRuns(runs []peers.Run) (map[string][]peers.Run, []string) {
	groups := map[string][]peers.Run{}
	var order []string
	for _, r := range runs {
		g := fmt.Sprintf("%s, %d B records", r.Step, r.RecordBytes)
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], r)
	}
	return groups, order
}

// offsetBars draws the verdict counts per tool; it returns the next y.
func offsetBars(body *strings.Builder, res *peers.Result, y int) int {
	v := res.Verdicts()
	if len(v) == 0 {
		return y
	}
	tools := make([]string, 0, len(v))
	most := 0
	for t, c := range v {
		tools = append(tools, t)
		n := 0
		for _, k := range c {
			n += k
		}
		most = max(most, n)
	}
	sort.Strings(tools)
	fmt.Fprintf(body, `<text x="4" y="%d" font-weight="bold">group offsets after migration: exact (green), ahead (amber), behind (red), missing (grey)</text>`+"\n", y+12)
	y += 20
	unit := float64(barSpace) / float64(most)
	for _, t := range tools {
		fmt.Fprintf(body, `<text x="%d" y="%d" text-anchor="end">%s</text>`, labelWidth-6, y+12, html.EscapeString(t))
		x := float64(labelWidth)
		var label []string
		for _, k := range verdictOrder {
			n := v[t][k]
			if n == 0 {
				continue
			}
			fmt.Fprintf(body, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`, x, y, float64(n)*unit, barHeight, verdictColors[k])
			x += float64(n) * unit
			label = append(label, fmt.Sprintf("%d %s", n, k))
		}
		fmt.Fprintf(body, `<text x="%.1f" y="%d">%s</text>`+"\n", x+4, y+12, strings.Join(label, ", "))
		y += barHeight + rowGap
	}
	return y
}

// human prints a rate as 12.3k or 1.20M.
func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// latencyBars draws p50 and p99 per tool on one scale; it returns the next y.
func latencyBars(body *strings.Builder, res *peers.Result, y int) int {
	if len(res.Latency) == 0 {
		return y
	}
	most := int64(1)
	for _, l := range res.Latency {
		most = max(most, l.P99Ms)
	}
	fmt.Fprintf(body, `<text x="4" y="%d" font-weight="bold">follow-mode latency, seconds: p50 (dark), p99 (light)</text>`+"\n", y+22)
	y += 30
	for _, l := range res.Latency {
		for _, q := range []struct {
			name  string
			ms    int64
			color string
		}{{"p50", l.P50Ms, "#37474f"}, {"p99", l.P99Ms, "#b0bec5"}} {
			w := float64(q.ms) / float64(most) * barSpace
			fmt.Fprintf(body, `<text x="%d" y="%d" text-anchor="end">%s %s</text>`, labelWidth-6, y+12, html.EscapeString(l.Tool), q.name)
			fmt.Fprintf(body, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, labelWidth, y, w, barHeight, q.color)
			fmt.Fprintf(body, `<text x="%.1f" y="%d">%.2f s</text>`+"\n", float64(labelWidth)+w+4, y+12, float64(q.ms)/1000)
			y += barHeight + rowGap
		}
	}
	return y
}
