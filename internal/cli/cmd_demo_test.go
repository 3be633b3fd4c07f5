package cli

import (
	"strings"
	"testing"
)

// TestDemo: the demo's round trip on an in-process cluster ends with every
// record matched, and prints the export and import summaries.
func TestDemo(t *testing.T) {
	keep := t.TempDir()
	out, _ := mustRun(t, "demo", "--records", "30", "--flush-size", "2", "--keep", keep)
	if !strings.Contains(out, "demo: verified 30 of 30 records: same partition, order, key, value and headers") {
		t.Errorf("demo did not verify every record:\n%s", out)
	}
	exp, imp := parseSummary(t, out, "export"), parseSummary(t, out, "import")
	if exp.total != 30 || imp.total != 30 || len(imp.rows) != 3 {
		t.Errorf("export %d records, import %d records in %d topics; want 30, 30, 3", exp.total, imp.total, len(imp.rows))
	}
	for _, n := range []string{"1", "2", "3"} {
		if r := imp.rows["source-topic-"+n]; r.target != "sink-topic-"+n || r.records != 10 {
			t.Errorf("import of source-topic-%s: %+v, want 10 records into sink-topic-%s", n, r, n)
		}
	}
	if got := objectFiles(t, keep, ".json"); len(got) < 27 {
		t.Errorf("--keep holds %d objects, want one or more per partition (27)", len(got))
	}
}

// TestDemoBackup: the backup scenario restores every record exactly once and
// prints the backup and restore summaries.
func TestDemoBackup(t *testing.T) {
	out, _ := mustRun(t, "demo", "--backup", "--records", "30")
	if !strings.Contains(out, "demo --backup: restored 30 records exactly once") ||
		!strings.Contains(out, "group demo-consumer resumes at the same record on the target") {
		t.Errorf("demo --backup:\n%s", out)
	}
	if b, r := parseSummary(t, out, "backup"), parseSummary(t, out, "restore"); b.total != 30 || r.total != 30 {
		t.Errorf("backup %d records, restore %d; want 30 each", b.total, r.total)
	}
}

// TestDemoUsage: wrong flags are one-line usage errors, found before a cluster
// starts.
func TestDemoUsage(t *testing.T) {
	checkUsage(t, []string{"demo"}, []usageCase{
		{"records", []string{"--records", "0"}, "--records must be positive"},
		{"flush size", []string{"--flush-size", "-1"}, "--flush-size -1"},
		{"format", []string{"--format", "xml"}, `--format: unknown format "xml"`},
		{"avro", []string{"--format", "avro"}, "--format avro"},
		{"argument", []string{"now"}, "takes no arguments"},
	})
}
