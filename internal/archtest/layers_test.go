package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/kferry/kferry"

// imports returns each package of the module with its direct imports (tests
// included, since a test importing franz-go is fine only where code may).
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		m[f[0]] = f[1:]
	}
	return m
}

// (Longer than 80 lines on purpose: most of it is the table of cases.)
func TestLayers(t *testing.T) {
	pkgs := imports(t)
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	rules := []struct {
		name    string
		forbids func(imp string) bool
		allowed func(pkg string) bool
	}{
		{"only internal/kafka imports franz-go",
			func(imp string) bool { return strings.HasPrefix(imp, "github.com/twmb/franz-go") },
			func(pkg string) bool {
				return strings.HasPrefix(pkg, module+"/internal/kafka") || strings.HasPrefix(pkg, module+"/test/")
			}},
		{"only pkg/store imports gocloud drivers",
			func(imp string) bool { return strings.HasPrefix(imp, "gocloud.dev/blob/") },
			func(pkg string) bool { return pkg == module+"/pkg/store" || strings.HasPrefix(pkg, module+"/test/") }},
		// internal/kafka takes AWS credentials for SASL AWS_MSK_IAM.
		{"only pkg/store and internal/kafka import AWS SDKs",
			func(imp string) bool { return strings.HasPrefix(imp, "github.com/aws/") },
			func(pkg string) bool {
				return pkg == module+"/pkg/store" || pkg == module+"/internal/kafka" || strings.HasPrefix(pkg, module+"/test/")
			}},
		// One-shot runs must not pay for metrics: pipeline reports through an interface.
		// deploy/monitoring parses the dashboards' and alerts' PromQL; the
		// binary never links it.
		{"only internal/metrics imports Prometheus",
			func(imp string) bool { return strings.HasPrefix(imp, "github.com/prometheus/") },
			func(pkg string) bool { return pkg == module+"/internal/metrics" || pkg == module+"/deploy/monitoring" }},
		{"pkg never imports internal",
			func(imp string) bool { return strings.HasPrefix(imp, module+"/internal/") },
			func(pkg string) bool { return !strings.HasPrefix(pkg, module+"/pkg/") }},
		{"plan does no I/O",
			func(imp string) bool {
				for _, io := range []string{"os", "net", "net/http", "gocloud.dev/blob", "github.com/twmb/franz-go/pkg/kgo"} {
					if imp == io {
						return true
					}
				}
				return false
			},
			func(pkg string) bool { return pkg != module+"/internal/plan" }},
		// The engine and the Confluent round trip sit below the products that
		// use them; products do not reach into each other.
		{"pipeline imports neither backup nor migrate",
			func(imp string) bool { return imp == module+"/internal/backup" || imp == module+"/internal/migrate" },
			func(pkg string) bool { return pkg != module+"/internal/pipeline" }},
		{"backup and migrate do not import each other",
			func(imp string) bool { return imp == module+"/internal/backup" || imp == module+"/internal/migrate" },
			func(pkg string) bool {
				return pkg != module+"/internal/backup" && pkg != module+"/internal/migrate"
			}},
		// What a bucket holds and how an object is read or written know nothing
		// of Kafka or of the jobs built on them.
		{"catalog and objset import no job, no Kafka",
			func(imp string) bool {
				for _, p := range []string{"pipeline", "backup", "migrate", "kafka", "cli", "plan"} {
					if imp == module+"/internal/"+p {
						return true
					}
				}
				return false
			},
			func(pkg string) bool {
				return pkg != module+"/internal/catalog" && pkg != module+"/internal/objset"
			}},
		{"only the command line and the binaries import internal/cli",
			func(imp string) bool { return imp == module+"/internal/cli" },
			func(pkg string) bool {
				return strings.HasPrefix(pkg, module+"/cmd/") || strings.HasPrefix(pkg, module+"/test/")
			}},
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			for pkg, imps := range pkgs {
				if r.allowed(pkg) {
					continue
				}
				for _, imp := range imps {
					if r.forbids(imp) {
						t.Errorf("%s imports %s", pkg, imp)
					}
				}
			}
		})
	}
}

// TestTestkitOnlyInTests: the shared test fixtures import testing and kfake;
// only tests may import them (the binary must not, see TestBinaryDoesNotLinkTesting).
func TestTestkitOnlyInTests(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		n++
		for _, imp := range f[1:] {
			if imp == module+"/internal/testkit" {
				t.Errorf("%s imports internal/testkit outside its tests", f[0])
			}
		}
	}
	if n < 5 {
		t.Fatalf("go list found only %d packages", n)
	}
}
