package cli

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
)

// backupLine is the line backup prints about the manifest it wrote.
var backupLine = regexp.MustCompile(`(?m)^backup (\S+) written \(parent (\S+)\): (\d+) topics, (\d+) groups$`)

// TestBackup: backup writes native objects and a manifest, names them and the
// per-topic summary; a second run is incremental: its parent is the first and
// it reads only what came after.
func TestBackup(t *testing.T) {
	c := kafkatest.NewCluster(t)
	seed(t, c, "orders", 2, 10)
	dir := t.TempDir()
	args := []string{"backup", "--brokers", brokers(c), "--topics", "orders", "--to", "file://" + dir}

	out, _ := mustRun(t, args...)
	m := backupLine.FindStringSubmatch(out)
	if m == nil || m[2] != "-" || m[3] != "1" || m[4] != "0" {
		t.Fatalf("want a line \"backup ID written (parent -): 1 topics, 0 groups\":\n%s", out)
	}
	first := m[1]
	s := parseSummary(t, out, "backup")
	want := summaryRow{target: "-", records: 10, objects: 2, offsets: "0:0-4 1:0-4"}
	if s.bucket != "file://"+dir || s.total != 10 || s.rows["orders"] != want {
		t.Errorf("summary %+v, want 10 records and orders %+v", s, want)
	}
	if got := objectFiles(t, dir, ".kfr"); len(got) != 2 {
		t.Errorf("objects %v, want one .kfr per partition", got)
	}

	more := []record.Record{{Topic: "orders", Partition: 0, Value: []byte("a")}, {Topic: "orders", Partition: 1, Value: []byte("b")}}
	if err := c.Produce(context.Background(), more); err != nil {
		t.Fatal(err)
	}
	out, _ = mustRun(t, args...)
	m = backupLine.FindStringSubmatch(out)
	if m == nil || m[2] != first {
		t.Fatalf("second backup: want parent %s:\n%s", first, out)
	}
	want = summaryRow{target: "-", records: 2, objects: 2, offsets: "0:5-5 1:5-5"}
	if s := parseSummary(t, out, "backup"); s.total != 2 || s.rows["orders"] != want {
		t.Errorf("incremental summary %+v, want orders %+v", s, want)
	}
	if ids := manifests(t, dir); !slices.Equal(ids, []string{first, m[1]}) {
		t.Errorf("manifests %v, want %s and %s", ids, first, m[1])
	}
}

// TestBackupEncrypted: a key given in KFERRY_ENCRYPTION_KEY seals the objects
// and the manifest and never shows; reading the backup takes the key.
func TestBackupEncrypted(t *testing.T) {
	c := sourceCluster(t, 5)
	key, err := seal.Generate()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "backup.key")
	if err := os.WriteFile(keyFile, []byte(key.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets := []string{key.String(), strings.TrimPrefix(key.String(), "AGE-SECRET-KEY-1")}
	dir := t.TempDir()

	t.Setenv("KFERRY_ENCRYPTION_KEY", key.String())
	out, errOut := mustRun(t, "backup", "--brokers", brokers(c), "--to", dir, "--log-level", "debug")
	noSecret(t, secrets, out, errOut)
	objs := objectFiles(t, dir, ".kfr")
	if len(objs) != 1 {
		t.Fatalf("objects %v, want 1", objs)
	}
	body, err := os.ReadFile(filepath.Join(dir, objs[0]))
	if err != nil || !strings.HasPrefix(string(body), seal.Magic) {
		t.Errorf("object %s is not sealed (%v)", objs[0], err)
	}

	t.Setenv("KFERRY_ENCRYPTION_KEY", "") // empty is unset
	_, errOut, code := run(t, "verify", dir)
	if code != ExitFailed || !errorLine(errOut) || !strings.Contains(errOut, "manifest is encrypted with key "+key.ID()) {
		t.Errorf("verify without the key: exit %d, %q; want 1 and one line naming the key id", code, errOut)
	}
	out, errOut = mustRun(t, "verify", dir, "--encrypt-key-file", keyFile)
	if !strings.Contains(out, "1 objects, 5 records checked") {
		t.Errorf("verify with the key file:\n%s", out)
	}
	noSecret(t, secrets, out, errOut)
}

// TestBackupCreatesMissingFolder: backup (one-shot and --follow) writes into a
// local folder that does not exist yet, as export does.
func TestBackupCreatesMissingFolder(t *testing.T) {
	src := sourceCluster(t, 3)
	dir := filepath.Join(t.TempDir(), "not", "yet")
	if out, errOut, code := run(t, "backup", "--brokers", brokers(src), "--topics", "t", "--to", "file://"+dir); code != 0 {
		t.Fatalf("backup into a new folder: exit %d\n%s%s", code, out, errOut)
	}
	if ids := manifests(t, dir); len(ids) != 1 {
		t.Errorf("manifests in the new folder: %v, want one", ids)
	}

	followDir := filepath.Join(t.TempDir(), "follow", "new")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		_, _, code := runContext(t, ctx, "backup", "--follow", "--interval", "100ms", "--brokers", brokers(src), "--topics", "t", "--to", followDir)
		done <- code
	}()
	waitFor(t, "backup --follow's first manifest", func() bool { return len(manifests(t, followDir)) > 0 })
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("backup --follow into a new folder: exit %d", code)
	}
}

// TestBackupUsage: wrong flags are one-line usage errors naming the flag.
func TestBackupUsage(t *testing.T) {
	dir := t.TempDir()
	checkUsage(t, []string{"backup"}, []usageCase{
		{"no brokers", []string{"--to", dir}, "--brokers is required"},
		{"no bucket", []string{"--brokers", "127.0.0.1:1"}, "--to is required"},
	})
	checkUsage(t, []string{"backup", "--brokers", "127.0.0.1:1", "--to", dir}, []usageCase{
		{"rotate bytes", []string{"--rotate-bytes", "1XB"}, "--rotate-bytes"},
		{"interval", []string{"--follow", "--interval", "0s"}, "--interval and --shutdown-timeout must be positive"},
		{"flush size", []string{"--flush-size", "-1"}, "--flush-size -1"},
		{"groups", []string{"--groups", "(billing"}, "--groups"},
		{"parallelism", []string{"--parallelism", "-1"}, "--parallelism"},
		{"topic regex", []string{"--topic-regex", "[a"}, "--topic-regex"},
		{"key file", []string{"--encrypt-key-file", filepath.Join(dir, "missing.key")}, "--encrypt-key-file"},
		{"object lock on a folder", []string{"--object-lock-days", "7"}, "--object-lock-days"},
		{"object lock mode", []string{"--object-lock-days", "7", "--object-lock-mode", "strict"}, "--object-lock-mode"},
		{"argument", []string{"orders"}, "takes no arguments"},
	})
	t.Run("key in the environment", func(t *testing.T) {
		const bad = "AGE-SECRET-KEY-1NOTAREALKEY"
		t.Setenv("KFERRY_ENCRYPTION_KEY", bad)
		out, errOut, code := run(t, "backup", "--brokers", "127.0.0.1:1", "--to", dir)
		if code != ExitUsage || out != "" || !errorLine(errOut) || !strings.Contains(errOut, "KFERRY_ENCRYPTION_KEY") {
			t.Errorf("exit %d, stderr %q; want 2 and one line naming KFERRY_ENCRYPTION_KEY", code, errOut)
		}
		noSecret(t, []string{bad, "NOTAREALKEY"}, out, errOut)
	})
}
