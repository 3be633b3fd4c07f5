package cli

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

// TestVersion: `kferry version` names the version and the Go version and
// platform; --json says the same as JSON, and --version is its first facts on
// one line. (A test binary carries no module versions: test/e2e checks the
// library versions on the built binary.)
func TestVersion(t *testing.T) {
	out, _ := mustRun(t, "version")
	for _, want := range []string{"kferry dev\n", "go:        " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(out, want) {
			t.Errorf("version prints no %q:\n%s", want, out)
		}
	}
	js, _ := mustRun(t, "version", "--json")
	var in struct {
		Version   string `json:"version"`
		GoVersion string `json:"go"`
	}
	if err := json.Unmarshal([]byte(js), &in); err != nil {
		t.Fatalf("version --json: %v\n%s", err, js)
	}
	if in.Version != "dev" || in.GoVersion != runtime.Version() {
		t.Errorf("version --json = %+v", in)
	}
	short, _ := mustRun(t, "--version")
	if !strings.HasPrefix(short, "kferry dev (") || !strings.HasSuffix(short, runtime.Version()+")\n") {
		t.Errorf("--version = %q, want kferry dev (…, %s)", short, runtime.Version())
	}
}
