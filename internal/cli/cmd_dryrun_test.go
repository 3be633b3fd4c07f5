package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
)

// TestDryRun: --dry-run prints each data command's plan, writes its JSON with
// --report, and leaves the bucket and the target cluster as they were; with
// --follow it is a usage error.
func TestDryRun(t *testing.T) {
	c := kafkatest.NewCluster(t)
	seed(t, c, "orders", 2, 10)
	dir := t.TempDir()
	out, _ := mustRun(t, "export", "--brokers", brokers(c), "--topics", "orders", "--to", "file://"+dir, "--dry-run")
	if !strings.Contains(out, "export plan: ") || !strings.Contains(out, "orders") || !strings.Contains(out, "total: 2 partitions, 10 records") {
		t.Errorf("export --dry-run printed:\n%s", out)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("export --dry-run wrote into the folder: %v (%v)", entries, err)
	}

	mustRun(t, "export", "--brokers", brokers(c), "--topics", "orders", "--to", "file://"+dir, "--flush-size", "4")
	objects := objectFiles(t, dir, "")
	report := filepath.Join(t.TempDir(), "plan.json")
	out, _ = mustRun(t, "import", "--brokers", brokers(c), "--from", "file://"+dir, "--rename", "orders=copy", "--dry-run", "--report", report)
	if !strings.Contains(out, "import plan: ") || !strings.Contains(out, "create  copy  2 partitions") {
		t.Errorf("import --dry-run printed:\n%s", out)
	}
	if topicExists(t, c, "copy") {
		t.Error("import --dry-run created the target topic")
	}
	body, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Plan struct {
			Tasks []struct {
				Objects int    `json:"objects"`
				Target  string `json:"target"`
			} `json:"tasks"`
		} `json:"plan"`
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range rep.Plan.Tasks {
		n += task.Objects
		if task.Target != "copy" {
			t.Errorf("report task targets %q", task.Target)
		}
	}
	if want := len(objectFiles(t, dir, ".json")); n != want || n == 0 {
		t.Errorf("report plans %d objects, the bucket holds %d", n, want)
	}
	if after := objectFiles(t, dir, ""); len(after) != len(objects) {
		t.Errorf("import --dry-run changed the bucket: %d files, then %d", len(objects), len(after))
	}

	target := kafkatest.NewCluster(t)
	bk := t.TempDir()
	mustRun(t, "backup", "--brokers", brokers(c), "--topics", "orders", "--to", "file://"+bk)
	out, _ = mustRun(t, "restore", "--brokers", brokers(target), "--from", "file://"+bk, "--dry-run")
	if !strings.Contains(out, "restore plan: ") || !strings.Contains(out, "create  orders  2 partitions") {
		t.Errorf("restore --dry-run printed:\n%s", out)
	}
	if topicExists(t, target, "orders") {
		t.Error("restore --dry-run created the target topic")
	}

	_, errOut, code := run(t, "restore", "--brokers", brokers(target), "--from", "file://"+bk, "--dry-run", "--follow")
	if code != 2 || !errorLine(errOut) || !strings.Contains(errOut, "--dry-run") {
		t.Errorf("restore --dry-run --follow: exit %d, stderr %q", code, errOut)
	}
}

// TestDryRunCreatesNoFolder: export, backup and migrate create a missing local
// destination folder when they run; their dry runs plan the same run (an empty
// destination) without creating it, and --dry-run --follow is refused before
// anything is touched.
func TestDryRunCreatesNoFolder(t *testing.T) {
	c := kafkatest.NewCluster(t)
	seed(t, c, "orders", 2, 10)
	target := kafkatest.NewCluster(t)
	for _, tc := range []struct {
		args   []string
		follow bool
	}{
		{args: []string{"export", "--brokers", brokers(c), "--topics", "orders", "--to"}},
		{args: []string{"export", "--brokers", brokers(c), "--topics", "orders", "--to"}, follow: true},
		{args: []string{"backup", "--brokers", brokers(c), "--topics", "orders", "--to"}},
		{args: []string{"backup", "--brokers", brokers(c), "--topics", "orders", "--to"}, follow: true},
		{args: []string{"migrate", "--source-brokers", brokers(c), "--target-brokers", brokers(target), "--topics", "orders", "--via"}},
		{args: []string{"restore", "--brokers", brokers(target), "--topics", "orders", "--from"}, follow: true},
	} {
		dir := filepath.Join(t.TempDir(), "not-yet")
		args := append(append([]string(nil), tc.args...), "file://"+dir, "--dry-run")
		if tc.follow {
			args = append(args, "--follow")
		}
		out, errOut, code := run(t, args...)
		switch {
		case tc.follow && code != 2:
			t.Errorf("%s: exit %d, want 2 (usage); stderr %q", strings.Join(args, " "), code, errOut)
		case !tc.follow && (code != 0 || !strings.Contains(out, " plan: ")):
			t.Errorf("%s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errOut)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s created the folder %s (%v)", strings.Join(args, " "), dir, err)
		}
	}
}
