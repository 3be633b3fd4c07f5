package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestDemo runs the embedded demo, which verifies every record itself.
func TestDemo(t *testing.T) {
	t.Parallel()
	r := kferry(t, runOpts{timeout: 3 * time.Minute}, "demo", "--records", "20000")
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "verified 20000 of 20000") {
		t.Errorf("demo does not say it verified every record:\n%s", r)
	}
}
