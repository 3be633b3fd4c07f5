package cli

import (
	"slices"
	"strings"
	"testing"
)

// TestExportImportPartitioner: export --partitioner field writes one folder
// level per field value; import with the same settings writes every record
// back, and without them refuses (exit 2) naming --partitioner.
func TestExportImportPartitioner(t *testing.T) {
	c := sourceCluster(t, 0)
	seed(t, c, "orders", 2, 6)
	dir := t.TempDir()
	mustRun(t, "export", "--brokers", brokers(c), "--topics", "orders", "--to", "file://"+dir, "--partitioner", "field", "--partition-field", "n")
	var want []string
	for i := range 6 {
		p := i % 2
		want = append(want, "topics/orders/n="+string(rune('0'+i))+"/orders+"+string(rune('0'+p))+"+000000000"+string(rune('0'+i/2))+".json")
	}
	slices.Sort(want)
	if got := objectFiles(t, dir, ".json"); !slices.Equal(got, want) {
		t.Fatalf("bucket holds %v\nwant %v", got, want)
	}
	out, errOut, code := run(t, "import", "--brokers", brokers(c), "--from", "file://"+dir, "--rename", "orders=copy")
	if code != ExitUsage || !errorLine(errOut) || !strings.Contains(errOut, "--partitioner") || !strings.Contains(errOut, "topics/orders/n=") {
		t.Errorf("import without the partitioner: exit %d, stdout %q, stderr %q; want exit 2 and one line naming --partitioner and an object", code, out, errOut)
	}
	if topicExists(t, c, "copy") {
		t.Error("the refused import created its target topic")
	}
	mustRun(t, "import", "--brokers", brokers(c), "--from", "file://"+dir, "--rename", "orders=copy", "--partitioner", "field", "--partition-field", "n")
	src, dst := records(t, c, "orders"), records(t, c, "copy")
	if total(dst) != 6 {
		t.Fatalf("copy holds %d records, want 6", total(dst))
	}
	for p, recs := range src {
		for i, r := range recs {
			if string(dst[p][i].Value) != string(r.Value) {
				t.Errorf("copy/%d[%d] = %s, want %s", p, i, dst[p][i].Value, r.Value)
			}
		}
	}
}

// TestPartitionerUsage: partitioner settings that cannot work are usage
// errors before anything is read.
func TestPartitionerUsage(t *testing.T) {
	base := []string{"export", "--brokers", "127.0.0.1:1", "--topics", "t", "--to", "file://" + t.TempDir()}
	checkUsage(t, base, []usageCase{
		{"unknown partitioner", []string{"--partitioner", "weekly"}, "want default, field, time"},
		{"field without fields", []string{"--partitioner", "field"}, "--partition-field"},
		{"fields without field partitioner", []string{"--partition-field", "a"}, "need --partitioner"},
		{"time without format", []string{"--partitioner", "time", "--partition-duration", "1h"}, "path"},
		{"time without duration", []string{"--partitioner", "time", "--path-format", "YYYY"}, "duration"},
		{"unknown zone", []string{"--partitioner", "hourly", "--timezone", "Mars/Olympus"}, "Mars/Olympus"},
		{"unsupported letter", []string{"--partitioner", "time", "--partition-duration", "1h", "--path-format", "'x'=q"}, "q"},
		{"hourly with a format", []string{"--partitioner", "hourly", "--path-format", "YYYY"}, "--partitioner time"},
		{"unknown timestamp", []string{"--partitioner", "hourly", "--timestamp", "kafka"}, "want record, field or wallclock"},
		{"time alone", []string{"--partitioner", "time"}, "needs --path-format"},
		{"weekday without a date", []string{"--partitioner", "time", "--partition-duration", "24h", "--path-format", "'year'=YYYY/'dow'=EEE"}, "could not find its folders"},
		{"week without its week-year", []string{"--partitioner", "time", "--partition-duration", "24h", "--path-format", "yyyy/ww"}, "could not find its folders"},
		{"empty level", []string{"--partitioner", "time", "--partition-duration", "1h", "--path-format", "'y'=YYYY//'m'=MM"}, "could not find its folders"},
		{"dot dot", []string{"--partitioner", "time", "--partition-duration", "1h", "--path-format", "'..'/YYYY"}, "could not find its folders"},
		{"timezone with default", []string{"--timezone", "Europe/Berlin"}, "--timezone is for the time partitioners"},
		{"wallclock with field", []string{"--partitioner", "field", "--partition-field", "a", "--timestamp", "wallclock"}, "--timestamp is for the time partitioners"},
		{"timestamp field without field", []string{"--partitioner", "hourly", "--timestamp-field", "ts"}, "needs --timestamp field"},
		{"field partitioner on avro", []string{"--partitioner", "field", "--partition-field", "a", "--format", "avro", "--schema-registry", "http://127.0.0.1:1"}, "read JSON values"},
	})
	checkUsage(t, []string{"import", "--brokers", "127.0.0.1:1", "--from", "file://" + t.TempDir()}, []usageCase{
		{"import time without format", []string{"--partitioner", "time"}, "needs --path-format"},
	})
}
