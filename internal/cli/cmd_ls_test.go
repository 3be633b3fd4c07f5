package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
)

// table returns the rows of a table printed by ls whose first field is first,
// split into fields.
func table(out, first string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == first {
			rows = append(rows, f)
		}
	}
	return rows
}

// TestLsExport: ls shows an export bucket per partition (objects, first and
// last start offsets, sidecars) and counts the keys that are not objects;
// --json has the same.
func TestLsExport(t *testing.T) {
	dir := exported(t, kafkatest.NewCluster(t))
	if err := os.WriteFile(filepath.Join(dir, "topics", "orders", "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := mustRun(t, "ls", dir)
	rows := table(out, "orders")
	if len(rows) != 2 {
		t.Fatalf("want a row per partition of orders:\n%s", out)
	}
	for i, r := range rows {
		// TOPIC PARTITION OBJECTS FIRST-START LAST-START STORED-BYTES SIDECARS
		if want := []string{"orders", strconv.Itoa(i), "2", "0", "3"}; strings.Join(r[:5], " ") != strings.Join(want, " ") ||
			strings.Join(r[6:], " ") != "keys:2 headers:2" {
			t.Errorf("row %v, want %v … keys:2 headers:2", r, want)
		}
	}
	if !strings.Contains(out, `1 keys under "topics" are not object names (first: topics/orders/notes.txt)`) {
		t.Errorf("ls does not count the stray key:\n%s", out)
	}

	out, _ = mustRun(t, "ls", "--json", dir)
	var js struct {
		Bucket     string        `json:"bucket"`
		Partitions []lsPartition `json:"partitions"`
		Skipped    int           `json:"skipped_keys"`
		Backups    []lsBackup    `json:"backups"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatalf("ls --json: %v\n%s", err, out)
	}
	if js.Bucket != dir || len(js.Partitions) != 2 || js.Skipped != 1 || len(js.Backups) != 0 ||
		js.Partitions[1].Objects != 2 || js.Partitions[1].LastStart != 3 || js.Partitions[1].KeysObjects != 2 || js.Partitions[1].Bytes == 0 {
		t.Errorf("ls --json: %+v", js)
	}
}

// TestLsBackups: ls lists every backup with its parent and shows the newest
// backup's partitions, or another's with --backup.
func TestLsBackups(t *testing.T) {
	c, dir := backedUp(t)
	first := newestBackup(t, dir)
	if err := c.Produce(context.Background(), []record.Record{{Topic: "orders", Partition: 0, Value: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "backup", "--brokers", brokers(c), "--topics", "orders", "--to", dir)
	ids := manifests(t, dir)
	second := ids[len(ids)-1]

	out, _ := mustRun(t, "ls", dir)
	// BACKUP PARENT TOPICS GROUPS RECORDS GAPS OLDEST NEWEST
	if r := table(out, first); len(r) != 1 || strings.Join(r[0][1:6], " ") != "- 1 0 10 0" {
		t.Errorf("row of %s: %v\n%s", first, r, out)
	}
	if r := table(out, second); len(r) != 1 || strings.Join(r[0][1:6], " ") != first+" 1 0 11 0" {
		t.Errorf("row of %s: %v\n%s", second, r, out)
	}
	// TOPIC PARTITION RECORDS FIRST-OFFSET LAST-OFFSET GAPS ...
	if !strings.Contains(out, "backup "+second+" (the newest)") || partitionRow(out, "0") != "orders 0 6 0 5 0" {
		t.Errorf("newest backup's view:\n%s", out)
	}
	out, _ = mustRun(t, "ls", dir, "--backup", first)
	if !strings.Contains(out, "backup "+first+" (not the newest)") || partitionRow(out, "0") != "orders 0 5 0 4 0" {
		t.Errorf("ls --backup %s:\n%s", first, out)
	}
}

// partitionRow is the first six fields of the backup view's row of orders/p.
func partitionRow(out, p string) string {
	for _, r := range table(out, "orders") {
		if len(r) >= 6 && r[1] == p {
			return strings.Join(r[:6], " ")
		}
	}
	return ""
}

// TestLsEncrypted: an encrypted backup shows only its id without the key, and
// everything with it; the key never shows.
func TestLsEncrypted(t *testing.T) {
	c := sourceCluster(t, 4)
	key, err := seal.Generate()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Setenv("KFERRY_ENCRYPTION_KEY", key.String())
	mustRun(t, "backup", "--brokers", brokers(c), "--to", dir)
	id := newestBackup(t, dir)

	out, errOut := mustRun(t, "ls", dir)
	if r := table(out, "t"); len(r) != 1 || strings.Join(r[0][:3], " ") != "t 0 4" {
		t.Errorf("with the key: rows of t %v\n%s", r, out)
	}
	noSecret(t, []string{key.String()}, out, errOut)
	t.Setenv("KFERRY_ENCRYPTION_KEY", "")
	out, _ = mustRun(t, "ls", dir)
	if !strings.Contains(out, id+"   (encrypted: pass --encrypt-key-file to see its contents)") || len(table(out, "t")) != 0 {
		t.Errorf("without the key:\n%s", out)
	}
}

// TestLsUsage: wrong arguments are one-line usage errors; a missing folder is
// a one-line failure.
func TestLsUsage(t *testing.T) {
	_, dir := backedUp(t)
	checkUsage(t, []string{"ls"}, []usageCase{
		{"no bucket", nil, "kferry ls takes 1 argument(s), got 0"},
		{"two buckets", []string{dir, dir}, "got 2"},
		{"topics dir", []string{dir, "--topics-dir", ".."}, "--topics-dir"},
		{"unknown backup", []string{dir, "--backup", "20200101T000000.000Z"}, "--backup 20200101T000000.000Z: no such backup"},
		{"backup of an export bucket", []string{t.TempDir(), "--backup", "x"}, "--backup x: the bucket holds no backup"},
	})
	missing := filepath.Join(t.TempDir(), "none")
	out, errOut, code := run(t, "ls", missing)
	if code != ExitFailed || out != "" || !errorLine(errOut) || !strings.Contains(errOut, "bucket not found: "+missing) {
		t.Errorf("ls of a missing folder: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
