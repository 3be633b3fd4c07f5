package cli

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/spf13/cobra"

	"github.com/kferry/kferry/internal/migrate"
	"github.com/kferry/kferry/internal/pipeline"
)

// TestInterrupted: a cancelled run's error says what was kept instead of
// "context canceled" and still exits 130; errors of a run that was not
// cancelled, or that have words of their own, are left alone.
func TestInterrupted(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	raw := fmt.Errorf("restore t/0: flush: %w", context.Canceled)
	s := pipeline.Summary{Records: 1, Objects: 2}

	err := writerInterrupted(cancelled, raw, "restore", s, false)
	if got, want := err.Error(), "interrupted; restore committed 1 record exactly once; run the same command again to resume where it stopped"; got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if ExitCode(err) != exitSignals || !errors.Is(err, raw) {
		t.Errorf("exit %d, chain %v: want %d and the original error in the chain", ExitCode(err), err, exitSignals)
	}
	if err := exportInterrupted(context.Background(), raw, s); !errors.Is(err, raw) {
		t.Errorf("not cancelled: got %v, want the error unchanged", err)
	}
	if err := backupInterrupted(cancelled, nil, s); err != nil {
		t.Errorf("no error: got %v", err)
	}

	// The generic words, for a command without its own.
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"ls", raw, "interrupted; ls changes nothing; run it again"},
		{"migrate", raw, "interrupted; migrate stopped; what it completed is kept, and the same command run again goes on from there"},
		{"migrate", migrate.ErrInterrupted, migrate.ErrInterrupted.Error()},
	} {
		root := &cobra.Command{Use: "kferry", SilenceErrors: true, SilenceUsage: true}
		root.AddCommand(&cobra.Command{Use: tc.name, RunE: func(*cobra.Command, []string) error { return tc.err }})
		catchInterrupts(root)
		root.SetArgs([]string{tc.name})
		if got := root.ExecuteContext(cancelled); got == nil || got.Error() != tc.want {
			t.Errorf("%s: got %v, want %q", tc.name, got, tc.want)
		}
	}
}
