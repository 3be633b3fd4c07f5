package cli

import (
	"bytes"
	"context"
	"errors"
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
