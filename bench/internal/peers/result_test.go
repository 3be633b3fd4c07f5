package peers

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRuns(t *testing.T) {
	runs, err := ParseRuns(strings.NewReader("export\tkcat-consume\t1024\t50000\t0.5\t0.07\t20480\t\n" +
		"import\tproducer-perf-test\t100\t200000\t4\t3.1\t204800\tProducerPerformance: 1 records/s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 {
		t.Fatalf("got %d runs, want 2", len(runs))
	}
	r := runs[0]
	if r.Key() != "export/kcat-consume/1024" || r.RecordsPerS != 100000 || r.PeakRSSMiB != 20 || r.MBPerS != 102.4 {
		t.Errorf("run 0 = %+v", r)
	}
	if runs[1].Note != "ProducerPerformance: 1 records/s" {
		t.Errorf("note = %q", runs[1].Note)
	}
	for _, bad := range []string{"export\tkcat\t1024\n", "export\tkcat\tx\t1\t1\t1\t1\t\n"} {
		if _, err := ParseRuns(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseRuns(%q) took it", bad)
		}
	}
}

func TestOffsetsLatencyAndRoundTrip(t *testing.T) {
	offs, err := ParseOffsets(strings.NewReader("mirrormaker2\t100\tpeers-g-mid-100\tsrc-100\t0\t10\t8\t5/4\tbehind\n" +
		"kferry-migrate\t100\tpeers-g-mid-100\tsrc-100\t0\t10\t10\t5/5\texact\n"))
	if err != nil {
		t.Fatal(err)
	}
	lat, err := ParseLatency(strings.NewReader("mirrormaker2\trecords=20 missing=0 duplicates=1 p50_ms=12 p90_ms=16 p99_ms=85 max_ms=210 rate=1000\t18.5\t746496\n"))
	if err != nil {
		t.Fatal(err)
	}
	if l := lat[0]; l.P99Ms != 85 || l.Duplicates != 1 || l.Rate != 1000 || l.PeakRSSMiB != 729 {
		t.Errorf("latency = %+v", l)
	}
	res := &Result{FormatVersion: FormatVersion, Meta: map[string]string{"kafka": "4.4.0"}, Offsets: offs, Latency: lat}
	if v := res.Verdicts(); v["mirrormaker2"]["behind"] != 1 || v["kferry-migrate"]["exact"] != 1 {
		t.Errorf("verdicts = %v", v)
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := res.Write(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Meta["kafka"] != "4.4.0" || len(back.Offsets) != 2 || back.Latency[0].MaxMs != 210 {
		t.Errorf("round trip = %+v", back)
	}
	back.FormatVersion = 2
	if err := back.Write(path); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil {
		t.Error("Load took format_version 2")
	}
}
