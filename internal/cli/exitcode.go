package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/store"
)

// Exit codes, as DESIGN.md fixes them.
const (
	ExitOK      = 0
	ExitFailed  = 1
	ExitUsage   = 2
	exitSignals = 130
)

// ErrUsage marks an error in how kferry was called (a flag, an argument).
var ErrUsage = errors.New("usage")

// usageErrorf returns an error that ExitCode maps to 2.
func usageErrorf(f string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(f, args...))
}

// ExitCode is the one table from errors to process exit status.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, context.Canceled):
		return exitSignals
	case errors.Is(err, ErrUsage),
		errors.Is(err, layout.ErrInvalidFilter),
		errors.Is(err, layout.ErrInvalidRename),
		errors.Is(err, layout.ErrInvalidTopicsDir),
		errors.Is(err, format.ErrUnknownFormat),
		errors.Is(err, store.ErrBadURL),
		errors.Is(err, pipeline.ErrBackupBucket), // import pointed at a backup: kferry restore reads it
		errors.Is(err, pipeline.ErrOtherLayout),  // import without the export's --partitioner settings
		errors.Is(err, catalog.ErrUnknownBackup), // --backup names no backup of the bucket
		isCobraUsage(err):
		return ExitUsage
	default:
		return ExitFailed
	}
}

// isCobraUsage recognises cobra's and pflag's own argument errors, which carry no
// sentinel.
func isCobraUsage(err error) bool {
	msg := err.Error()
	// Flag errors come wrapped by the root's FlagErrorFunc and argument errors
	// from our own validators; only cobra's "unknown command" arrives bare. The
	// prefixes are anchored so an error that merely mentions these words (a
	// server saying it "accepts" something) is not taken for a usage error.
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
