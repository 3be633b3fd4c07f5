package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
)

// newestBackup returns the id of the only backup in the folder dir.
func newestBackup(t *testing.T, dir string) string {
	t.Helper()
	ids := manifests(t, dir)
	if len(ids) != 1 {
		t.Fatalf("backups in %s: %v, want one", dir, ids)
	}
	return ids[0]
}

// TestVerify: an intact backup is "ok", alone and compared record by record
// with the live topics (as they are, and as a restored, renamed copy), and
// --json has the same report.
func TestVerify(t *testing.T) {
	src, dir := backedUp(t)
	id := newestBackup(t, dir)

	out, _ := mustRun(t, "verify", dir)
	if want := "backup " + id + ": 2 objects, 10 records checked\n  ok: every object matches the manifest\n"; out != want {
		t.Errorf("verify printed\n%s\nwant\n%s", out, want)
	}
	out, _ = mustRun(t, "verify", dir, "--brokers", brokers(src))
	if !strings.HasPrefix(out, "backup "+id+": 2 objects, 10 records checked, 10 records compared with the cluster\n") {
		t.Errorf("verify --brokers printed\n%s", out)
	}

	dst := kafkatest.NewCluster(t)
	mustRun(t, "restore", "--from", dir, "--brokers", brokers(dst), "--rename", "orders=copy")
	out, _ = mustRun(t, "verify", dir, "--brokers", brokers(dst), "--rename", "orders=copy")
	if !strings.Contains(out, "10 records compared with the cluster") || !strings.Contains(out, "ok:") {
		t.Errorf("verify of the restored copy printed\n%s", out)
	}

	out, _ = mustRun(t, "verify", dir, "--json")
	var rep struct {
		Backup   string   `json:"backup"`
		Objects  int      `json:"objects"`
		Records  int64    `json:"records"`
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Backup != id || rep.Objects != 2 || rep.Records != 10 || len(rep.Problems) != 0 {
		t.Errorf("verify --json: %+v (%v):\n%s", rep, err, out)
	}
}

// TestVerifyProblems: a damaged object fails verify (exit 1) naming it; an
// object that no manifest lists is a warning, and a failure with --strict.
func TestVerifyProblems(t *testing.T) {
	_, dir := backedUp(t)
	stray := filepath.Join(dir, "topics", "orders", "partition=0", "orders+0+0000000099.kfr")
	if err := os.WriteFile(stray, []byte("left over"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := mustRun(t, "verify", dir)
	if !strings.Contains(out, "  warning: object topics/orders/partition=0/orders+0+0000000099.kfr (9 bytes) is in no manifest") ||
		!strings.Contains(out, "ok: every object matches the manifest, with 1 warnings (--strict fails on them)") {
		t.Errorf("verify with an unlisted object printed\n%s", out)
	}
	_, errOut, code := run(t, "verify", "--strict", dir)
	if code != ExitFailed || !strings.HasPrefix(errorText(errOut), "kferry: verification failed: 1 warnings in backup") {
		t.Errorf("verify --strict: exit %d, error %q; want 1 and the warning", code, errorText(errOut))
	}

	obj := filepath.Join(dir, "topics", "orders", "partition=1", "orders+1+0000000000.kfr")
	body, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	body[len(body)/2] ^= 0xff
	if err := os.WriteFile(obj, body, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = run(t, "verify", dir)
	problem := regexp.MustCompile(`(?m)^  problem: .*topics/orders/partition=1/orders\+1\+0000000000\.kfr`)
	if code != ExitFailed || !problem.MatchString(out) || strings.Contains(out, "ok:") ||
		!strings.Contains(errorText(errOut), "verification failed: 1 problems") {
		t.Errorf("verify of an altered object: exit %d\n%s%s\nwant 1, the object named as a problem, no ok", code, out, errOut)
	}
}

// TestVerifySASLSecrets: a SASL password never shows, given to backup by flag
// and to verify --brokers by environment.
func TestVerifySASLSecrets(t *testing.T) {
	const password = "Verify-Pa55-6a3"
	c := kafkatest.NewSASLCluster(t, "kferry", password)
	seed(t, c, "orders", 1, 4)
	dir := t.TempDir()
	sasl := []string{"--brokers", brokers(c), "--sasl-mechanism", "scram-sha-256", "--sasl-username", "kferry", "--log-level", "debug"}
	out, errOut := mustRun(t, append([]string{"backup", "--to", dir, "--sasl-password", password}, sasl...)...)
	noSecret(t, []string{password}, out, errOut)
	t.Setenv("KFERRY_SASL_PASSWORD", password)
	out, errOut = mustRun(t, append([]string{"verify", dir}, sasl...)...)
	if !strings.Contains(out, "4 records compared with the cluster") {
		t.Errorf("verify --brokers printed\n%s", out)
	}
	noSecret(t, []string{password}, out, errOut)
}

// TestVerifyUsage: wrong arguments and flags are one-line usage errors.
func TestVerifyUsage(t *testing.T) {
	_, dir := backedUp(t)
	checkUsage(t, []string{"verify"}, []usageCase{
		{"no bucket", nil, "kferry verify takes 1 argument(s), got 0"},
		{"two buckets", []string{dir, dir}, "takes 1 argument(s), got 2"},
		{"rename", []string{dir, "--rename", "orders"}, "--rename"},
		{"unknown backup", []string{dir, "--backup", "20200101T000000.000Z"}, "`kferry ls " + dir + "` lists them"},
		{"bucket scheme", []string{"ftp://host/backups"}, `scheme "ftp" not supported`},
		{"brokers timeout", []string{dir, "--brokers", "127.0.0.1:1", "--timeout", "-1s"}, "--timeout"},
	})
}
