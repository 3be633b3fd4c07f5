package cli

import (
	"fmt"
	"time"

	"github.com/kferry/kferry/pkg/layout"
)

// checkParallelism refuses a negative --parallelism; 0 stands for the default.
func checkParallelism(n int) error {
	if n < 0 {
		return usageErrorf("--parallelism %d: want the number of partitions to move at once, or 0 for 2 × CPUs", n)
	}
	return nil
}

// checkNotNegative refuses a negative duration for a flag where 0 means off.
func checkNotNegative(flag string, d time.Duration) error {
	if d < 0 {
		return usageErrorf("%s %s: want 0 (off) or a positive duration", flag, d)
	}
	return nil
}

// checkTopicsDir refuses a --topics-dir that names no folder or leaves the
// bucket prefix.
func checkTopicsDir(dir string) error {
	if err := layout.CheckTopicsDir(dir); err != nil {
		return fmt.Errorf("--topics-dir: %w", err)
	}
	return nil
}

// firstErr returns the first non-nil error of checks made in a row.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
