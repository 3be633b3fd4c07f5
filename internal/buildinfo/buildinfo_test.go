package buildinfo

import (
	"runtime"
	"slices"
	"testing"
)

// TestStamped: the values a release build stamps with -ldflags -X win over
// Go's VCS stamp and show in both forms.
func TestStamped(t *testing.T) {
	version, commit, date = "1.2.3", "0123456789abcdef0123", "2026-12-01T00:00:00Z"
	t.Cleanup(func() { version, commit, date = "dev", "", "" })
	in := Read()
	if in.Version != "1.2.3" || in.Commit != commit || in.Date != date || Version() != "1.2.3" {
		t.Fatalf("Read() = %+v", in)
	}
	if want := "1.2.3 (0123456789ab, 2026-12-01T00:00:00Z, " + runtime.Version() + ")"; in.Short() != want {
		t.Errorf("Short() = %q, want %q", in.Short(), want)
	}
	in.Modified = true
	lines := in.Lines()
	for _, want := range []string{"kferry 1.2.3", "  commit:    0123456789abcdef0123 (modified)", "  built:     2026-12-01T00:00:00Z"} {
		if !slices.Contains(lines, want) {
			t.Errorf("Lines() = %q, want a line %q", lines, want)
		}
	}
}
