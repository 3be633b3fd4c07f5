package archtest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestBinaryDoesNotLinkTesting: test helpers reachable from the binary (the
// demo's in-process cluster) must not pull the testing package into kferry.
func TestBinaryDoesNotLinkTesting(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", module+"/cmd/kferry").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps found only %d packages", len(deps))
	}
	if slices.Contains(deps, "testing") {
		t.Error("the kferry binary links the testing package; keep testing out of packages it imports (see kafkatest.TB)")
	}
}
