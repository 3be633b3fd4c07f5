package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestVersionLibraries: the built binary's `version --json` names the franz-go
// and gocloud versions go.mod resolves, as a bug report needs them.
func TestVersionLibraries(t *testing.T) {
	t.Parallel()
	r := kferry(t, runOpts{}, "version", "--json")
	mustSucceed(t, r)
	var in struct {
		Libraries map[string]string `json:"libraries"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &in); err != nil {
		t.Fatalf("version --json: %v\n%s", err, r.stdout)
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/twmb/franz-go", "gocloud.dev").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	want := strings.Fields(string(out))
	if len(want) != 2 || in.Libraries["franz-go"] != want[0] || in.Libraries["gocloud"] != want[1] {
		t.Errorf("version --json libraries %v, want franz-go %s and gocloud %s (go list -m)", in.Libraries, want[0], want[1])
	}
}
