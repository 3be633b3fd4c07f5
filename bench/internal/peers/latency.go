package peers

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Latency is one follow-mode run of bench/latency against a tool that copies
// topic lat from one cluster to another.
type Latency struct {
	Tool       string  `json:"tool"`
	Rate       float64 `json:"rate"` // records/s produced
	Records    int64   `json:"records"`
	Missing    int64   `json:"missing"`
	Duplicates int64   `json:"duplicates"`
	P50Ms      int64   `json:"p50_ms"`
	P90Ms      int64   `json:"p90_ms"`
	P99Ms      int64   `json:"p99_ms"`
	MaxMs      int64   `json:"max_ms"`
	CPUSeconds float64 `json:"cpu_s"` // the copying tool's, over its whole run
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

// ParseLatency reads bench/peers.sh's latency.tsv: tool, bench/latency's
// key=value line, CPU seconds, peak RSS KiB.
func ParseLatency(rd io.Reader) ([]Latency, error) {
	rows, err := tsvRows(rd, 4)
	if err != nil {
		return nil, fmt.Errorf("latency: %w", err)
	}
	out := make([]Latency, 0, len(rows))
	for i, f := range rows {
		kv := map[string]float64{}
		for _, pair := range strings.Fields(f[1]) {
			k, v, _ := strings.Cut(pair, "=")
			if x, err := strconv.ParseFloat(v, 64); err == nil {
				kv[k] = x
			}
		}
		cpu, err1 := strconv.ParseFloat(f[2], 64)
		rss, err2 := strconv.ParseFloat(f[3], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("latency line %d: bad CPU or RSS", i+1)
		}
		out = append(out, Latency{Tool: f[0], Rate: kv["rate"], Records: int64(kv["records"]),
			Missing: int64(kv["missing"]), Duplicates: int64(kv["duplicates"]), P50Ms: int64(kv["p50_ms"]),
			P90Ms: int64(kv["p90_ms"]), P99Ms: int64(kv["p99_ms"]), MaxMs: int64(kv["max_ms"]),
			CPUSeconds: cpu, PeakRSSMiB: rss / 1024})
	}
	return out, nil
}
