package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kferry/kferry/pkg/seal"
)

// TestKeygen: keygen prints a key file (a comment with the public key, then
// the identity) on stdout and only the public key on stderr.
func TestKeygen(t *testing.T) {
	out, errOut := mustRun(t, "keygen")
	key, err := seal.Parse(out)
	if err != nil {
		t.Fatalf("stdout is no key: %v\n%s", err, out)
	}
	if want := "# kferry backup key; public key: " + key.ID() + "\n" + key.String() + "\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	if errOut != "public key (key id): "+key.ID()+"\n" {
		t.Errorf("stderr %q, want the public key only", errOut)
	}
	noSecret(t, []string{key.String()}, errOut)
	if out2, _ := mustRun(t, "keygen"); out2 == out {
		t.Error("two runs made the same key")
	}
}

// TestKeygenOutFileComplete: --out writes the key with mode 0600 and never
// overwrites an existing file.
func TestKeygenOutFileComplete(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.key")
	out, errOut, code := run(t, "keygen", "--out", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	key, err := seal.Parse(string(body))
	if err != nil {
		t.Fatalf("key file holds no age identity (%v):\n%s", err, body)
	}
	if out != "" || !strings.Contains(errOut, key.ID()) {
		t.Errorf("stdout %q, stderr %q: want nothing on stdout and the public key on stderr", out, errOut)
	}
	noSecret(t, []string{key.String()}, out, errOut)
	if _, _, code := run(t, "keygen", "--out", path); code == 0 {
		t.Error("keygen overwrote an existing key")
	}
}

// TestKeygenUsage: arguments are a usage error; a key file that cannot be
// created is a one-line failure.
func TestKeygenUsage(t *testing.T) {
	checkUsage(t, []string{"keygen"}, []usageCase{
		{"argument", []string{"my.key"}, `kferry keygen takes no arguments, got ["my.key"]`},
		{"flag", []string{"--bits", "256"}, "unknown flag: --bits"},
	})
	out, errOut, code := run(t, "keygen", "--out", filepath.Join(t.TempDir(), "no", "such", "dir", "k.key"))
	if code != ExitFailed || out != "" || !errorLine(errOut) || !strings.Contains(errOut, "keygen: ") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 and one line", code, out, errOut)
	}
}

// TestKeygenOutFromEnvironment: --out, like every flag, can come from
// KFERRY_OUT.
func TestKeygenOutFromEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "env.key")
	t.Setenv("KFERRY_OUT", path)
	out, _ := mustRun(t, "keygen")
	body, err := os.ReadFile(path)
	if err != nil || out != "" || !strings.Contains(string(body), "AGE-SECRET-KEY-1") {
		t.Errorf("KFERRY_OUT: file %q (%v), stdout %q; want the key in the file only", body, err, out)
	}
}
