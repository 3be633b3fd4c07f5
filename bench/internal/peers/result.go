package peers

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// FormatVersion is the version of the JSON layout; Load refuses another major.
const FormatVersion = 1

// Result is one run of bench/peers.sh.
type Result struct {
	FormatVersion int `json:"format_version"`
	// Meta holds the run's settings and machine: kafka, kcat, java, go, kferry
	// (git describe), cpus, mem_mib, scale, partitions, heap, load_before.
	Meta    map[string]string `json:"meta"`
	Runs    []Run             `json:"runs"`
	Offsets []Offset          `json:"offsets"`
	Latency []Latency         `json:"latency,omitempty"`
	// Notes are the script's one-line notes: peers skipped and why, fallbacks.
	Notes []string `json:"notes"`
}

// Run is one tool measured on one data set.
type Run struct {
	Step        string  `json:"step"` // export, import, backup, migrate
	Tool        string  `json:"tool"`
	RecordBytes int     `json:"record_bytes"`
	Records     int64   `json:"records"`
	Seconds     float64 `json:"seconds"`
	RecordsPerS float64 `json:"records_per_s"`
	MBPerS      float64 `json:"mb_per_s"` // value bytes, 10^6 B/s
	CPUSeconds  float64 `json:"cpu_s"`    // user + system of the tool's processes
	PeakRSSMiB  float64 `json:"peak_rss_mib"`
	Note        string  `json:"note,omitempty"`
}

// Key names a run across result files.
func (r Run) Key() string { return fmt.Sprintf("%s/%s/%d", r.Step, r.Tool, r.RecordBytes) }

// Offset is one consumer group's committed offset after a migration.
type Offset struct {
	Tool         string `json:"tool"`
	RecordBytes  int    `json:"record_bytes"`
	Group        string `json:"group"`
	Topic        string `json:"topic"`
	Partition    int    `json:"partition"`
	SourceOffset string `json:"source_offset"`
	TargetOffset string `json:"target_offset"`
	// Records is "source id/target id" of the record at each offset ("end":
	// none after it).
	Records string `json:"records"`
	// Verdict is exact, ahead (the target group would skip records), behind
	// (it would read some again) or missing (no offset on the target).
	Verdict string `json:"verdict"`
}

// Verdicts counts the offsets per tool and verdict.
func (r *Result) Verdicts() map[string]map[string]int {
	m := map[string]map[string]int{}
	for _, o := range r.Offsets {
		if m[o.Tool] == nil {
			m[o.Tool] = map[string]int{}
		}
		m[o.Tool][o.Verdict]++
	}
	return m
}

// Load reads a result file.
func Load(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%s: format_version %d, want %d", path, r.FormatVersion, FormatVersion)
	}
	return &r, nil
}

// Write writes r as indented JSON to path.
func (r *Result) Write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// tsvRows reads tab-separated rows of at least min fields.
func tsvRows(rd io.Reader, min int) ([][]string, error) {
	var rows [][]string
	sc := bufio.NewScanner(rd)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		f := strings.Split(sc.Text(), "\t")
		if len(f) < min {
			return nil, fmt.Errorf("line %d: %d fields, want %d", n, len(f), min)
		}
		rows = append(rows, f)
	}
	return rows, sc.Err()
}

// ParseRuns reads bench/peers.sh's runs.tsv: step, tool, record bytes,
// records, seconds, CPU seconds, peak RSS KiB, note.
func ParseRuns(rd io.Reader) ([]Run, error) {
	rows, err := tsvRows(rd, 7)
	if err != nil {
		return nil, fmt.Errorf("runs: %w", err)
	}
	runs := make([]Run, 0, len(rows))
	for i, f := range rows {
		var nums [5]float64
		for j, s := range f[2:7] {
			if nums[j], err = strconv.ParseFloat(s, 64); err != nil {
				return nil, fmt.Errorf("runs line %d: field %d: %w", i+1, j+3, err)
			}
		}
		r := Run{Step: f[0], Tool: f[1], RecordBytes: int(nums[0]), Records: int64(nums[1]),
			Seconds: nums[2], CPUSeconds: nums[3], PeakRSSMiB: nums[4] / 1024}
		if len(f) > 7 {
			r.Note = f[7]
		}
		if r.Seconds > 0 {
			r.RecordsPerS = float64(r.Records) / r.Seconds
			r.MBPerS = r.RecordsPerS * float64(r.RecordBytes) / 1e6
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// ParseOffsets reads bench/peers.sh's offsets.tsv: tool, record bytes, group,
// topic, partition, source offset, target offset, records, verdict.
func ParseOffsets(rd io.Reader) ([]Offset, error) {
	rows, err := tsvRows(rd, 9)
	if err != nil {
		return nil, fmt.Errorf("offsets: %w", err)
	}
	out := make([]Offset, 0, len(rows))
	for i, f := range rows {
		size, err1 := strconv.Atoi(f[1])
		part, err2 := strconv.Atoi(f[4])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("offsets line %d: bad record bytes or partition", i+1)
		}
		out = append(out, Offset{Tool: f[0], RecordBytes: size, Group: f[2], Topic: f[3], Partition: part,
			SourceOffset: f[5], TargetOffset: f[6], Records: f[7], Verdict: f[8]})
	}
	return out, nil
}

// ParseMeta reads key=value lines.
func ParseMeta(rd io.Reader) (map[string]string, error) {
	m := map[string]string{}
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			m[k] = v
		}
	}
	return m, sc.Err()
}
