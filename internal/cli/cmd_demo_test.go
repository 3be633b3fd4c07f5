package cli

import (
	"path/filepath"
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

// TestDemoAvro: demo --avro exports Avro records as Parquet in three daily
// folders per partition, imports them with the target registry's ids and
// verifies every record; its flags refuse the other scenario.
func TestDemoAvro(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := run(t, "demo", "--avro", "--records", "2700", "--keep", dir)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"exported 2700 records as Parquet to 27 objects", "verified 2700 of 2700 records", "read_parquet("} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
	days, _ := filepath.Glob(filepath.Join(dir, "topics", "orders", "year=2026", "month=11", "day=*"))
	if len(days) != 3 {
		t.Errorf("day folders %v, want 3", days)
	}
	if _, errOut, code := run(t, "demo", "--avro", "--backup"); code != ExitUsage {
		t.Errorf("--avro --backup: exit %d, stderr %q", code, errOut)
	}
}
