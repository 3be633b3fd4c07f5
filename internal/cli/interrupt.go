package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kferry/kferry/internal/pipeline"
)

// interruptedError is a run that SIGINT or SIGTERM stopped. Its message says
// what the run kept and how to go on, in place of the "context canceled" of
// whatever call was in flight; it is still context.Canceled (exit 130), and
// the error it replaces stays in the chain.
type interruptedError struct {
	what string
	err  error
}

func (e *interruptedError) Error() string   { return "interrupted; " + e.what }
func (e *interruptedError) Unwrap() []error { return []error{context.Canceled, e.err} }

// interrupted returns err as an interruptedError saying what (a format with
// args) when ctx was cancelled, as main's signal context is on SIGINT and
// SIGTERM; otherwise err unchanged.
func interrupted(ctx context.Context, err error, what string, args ...any) error {
	var done *interruptedError
	if err == nil || !errors.Is(ctx.Err(), context.Canceled) || errors.As(err, &done) {
		return err
	}
	return &interruptedError{what: fmt.Sprintf(what, args...), err: err}
}

// readOnly commands change nothing, so stopping one leaves nothing behind.
var readOnly = map[string]bool{"ls": true, "cat": true, "verify": true, "check": true}

// catchInterrupts wraps the RunE of every command under c: a run that a signal
// cancelled before the command said what it kept (the one-shot commands that
// write say that themselves, from their summaries) ends in "interrupted; ..."
// too, never in a bare "context canceled". Every kferry write is resumable
// (deterministic object names, progress committed with the records), which is
// what the generic words say.
func catchInterrupts(c *cobra.Command) {
	for _, sub := range c.Commands() {
		catchInterrupts(sub)
	}
	run := c.RunE
	if run == nil {
		return
	}
	c.RunE = func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		if !errors.Is(err, context.Canceled) {
			return err // its own words: a shutdown timeout, an interrupted migration
		}
		name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
		if readOnly[cmd.Name()] {
			return interrupted(cmd.Context(), err, "%s changes nothing; run it again", name)
		}
		return interrupted(cmd.Context(), err, "%s stopped; what it completed is kept, and the same command run again goes on from there", name)
	}
}

// exportInterrupted says what an interrupted one-shot export kept.
func exportInterrupted(ctx context.Context, err error, s pipeline.Summary) error {
	return interrupted(ctx, err, "export completed %s (%s), each whole; run the same command again: it rewrites them and goes on", plural(s.Objects, "object"), plural(s.Records, "record"))
}

// backupInterrupted says what an interrupted one-shot backup kept: its
// objects, but no manifest, so the bucket's newest backup is the one before.
func backupInterrupted(ctx context.Context, err error, s pipeline.Summary) error {
	return interrupted(ctx, err, "backup wrote %s (%s) but no manifest, so the bucket's newest backup is unchanged; run the same command again to back up from there", plural(s.Objects, "object"), plural(s.Records, "record"))
}

// writerInterrupted says what an interrupted import or restore committed: with
// transactions exactly what its progress group holds, which a rerun resumes.
func writerInterrupted(ctx context.Context, err error, command string, s pipeline.Summary, atLeastOnce bool) error {
	if atLeastOnce {
		return interrupted(ctx, err, "%s wrote %s without transactions; run the same command again to resume (the records of the objects in flight may be written twice)", command, plural(s.Records, "record"))
	}
	return interrupted(ctx, err, "%s committed %s exactly once; run the same command again to resume where it stopped", command, plural(s.Records, "record"))
}

// plural is "1 record", "2 records".
func plural[N int | int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
