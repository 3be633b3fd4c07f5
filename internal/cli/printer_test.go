package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var errFull = errors.New("no space left on device")

// fullWriter fails every write, as stdout redirected to a full disk does.
type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, errFull }

// TestOutputWriteErrorsFail: a command whose result could not be written fails
// with the write error; keygen above all, whose key exists nowhere else.
func TestOutputWriteErrorsFail(t *testing.T) {
	for _, args := range [][]string{
		{"keygen"},
		{"config", "check", "--brokers", "b:9092"},
		{"ls", t.TempDir()},
	} {
		t.Run(strings.Join(args[:1], " "), func(t *testing.T) {
			var errb bytes.Buffer
			root := newRoot(&globals{stdout: fullWriter{}, stderr: &errb})
			root.SetArgs(args)
			root.SetOut(&errb)
			root.SetErr(&errb)
			err := root.ExecuteContext(context.Background())
			if !errors.Is(err, errFull) || ExitCode(err) != ExitFailed {
				t.Fatalf("err = %v (exit %d), want the write error (exit 1)", err, ExitCode(err))
			}
		})
	}
}

// TestKeygenOutFileComplete: --out writes the key with mode 0600 and never
// overwrites an existing file.
func TestKeygenOutFileComplete(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.key")
	if _, errOut, code := run(t, "keygen", "--out", path); code != 0 {
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
	if !strings.Contains(string(body), "AGE-SECRET-KEY-") {
		t.Errorf("key file holds no age identity:\n%s", body)
	}
	if _, _, code := run(t, "keygen", "--out", path); code == 0 {
		t.Error("keygen overwrote an existing key")
	}
}
