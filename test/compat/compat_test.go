package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// goTestJSON is a shortened `go test -json` run: a parallel test with
// subtests that waits after t.Parallel, one with a failing subtest, a
// skipped one, TestMain's output and the package's end.
const goTestJSON = `{"Time":"2026-12-01T10:00:00Z","Action":"start","Package":"p"}
{"Time":"2026-12-01T10:00:01Z","Action":"output","Package":"p","Output":"e2e: Kafka is Apache Kafka 4.1.2\n"}
{"Time":"2026-12-01T10:00:02Z","Action":"run","Package":"p","Test":"TestKcatInterop"}
{"Time":"2026-12-01T10:00:02Z","Action":"pause","Package":"p","Test":"TestKcatInterop"}
{"Time":"2026-12-01T10:00:02Z","Action":"run","Package":"p","Test":"TestRestoreKilled"}
{"Time":"2026-12-01T10:00:03Z","Action":"run","Package":"p","Test":"TestRestoreKilled/early"}
{"Time":"2026-12-01T10:00:04Z","Action":"output","Package":"p","Test":"TestRestoreKilled/early","Output":"kill_test.go:1: 2 duplicates\n"}
{"Time":"2026-12-01T10:00:05Z","Action":"fail","Package":"p","Test":"TestRestoreKilled/early","Elapsed":2}
{"Time":"2026-12-01T10:00:06Z","Action":"run","Package":"p","Test":"TestRestoreKilled/late"}
{"Time":"2026-12-01T10:00:07Z","Action":"pass","Package":"p","Test":"TestRestoreKilled/late","Elapsed":1}
{"Time":"2026-12-01T10:00:08Z","Action":"fail","Package":"p","Test":"TestRestoreKilled","Elapsed":0.1}
{"Time":"2026-12-01T10:00:10Z","Action":"cont","Package":"p","Test":"TestKcatInterop"}
{"Time":"2026-12-01T10:00:12.5Z","Action":"pass","Package":"p","Test":"TestKcatInterop","Elapsed":0}
{"Time":"2026-12-01T10:00:13Z","Action":"run","Package":"p","Test":"TestBackupS3"}
{"Time":"2026-12-01T10:00:13Z","Action":"skip","Package":"p","Test":"TestBackupS3","Elapsed":0}
{"Time":"2026-12-01T10:00:14Z","Action":"output","Package":"p","Output":"FAIL\n"}
{"Time":"2026-12-01T10:00:14Z","Action":"fail","Package":"p","Elapsed":14}
`

func TestParse(t *testing.T) {
	var ended []string
	var failOutput string
	results, tail, err := parse(strings.NewReader(goTestJSON), func(name string, r testResult, output []string) {
		ended = append(ended, name+" "+r.action)
		if r.action == "fail" {
			failOutput = strings.Join(output, "")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]testResult{
		"TestRestoreKilled": {action: "fail", elapsed: 6 * time.Second, failed: []string{"early"}, first: "kill_test.go:1: 2 duplicates"},
		"TestKcatInterop":   {action: "pass", elapsed: 2500 * time.Millisecond},
		"TestBackupS3":      {action: "skip"},
	}
	if d := cmp.Diff(want, results, cmp.AllowUnexported(testResult{})); d != "" {
		t.Errorf("results (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"TestRestoreKilled fail", "TestKcatInterop pass", "TestBackupS3 skip"}, ended); d != "" {
		t.Errorf("done calls (-want +got):\n%s", d)
	}
	if !strings.Contains(failOutput, "2 duplicates") {
		t.Errorf("a failed test's output lacks its subtest's: %q", failOutput)
	}
	if d := cmp.Diff([]string{"e2e: Kafka is Apache Kafka 4.1.2", "FAIL"}, tail); d != "" {
		t.Errorf("package output (-want +got):\n%s", d)
	}
}

// TestParseBuildError: go test prints a build failure as plain lines, which
// end up in the tail that the problem note quotes.
func TestParseBuildError(t *testing.T) {
	results, tail, err := parse(strings.NewReader("# p\n./x.go:1: undefined: y\n"), nil)
	if err != nil || len(results) != 0 {
		t.Fatalf("results %v, err %v", results, err)
	}
	if d := cmp.Diff([]string{"# p", "./x.go:1: undefined: y"}, tail); d != "" {
		t.Errorf("tail (-want +got):\n%s", d)
	}
}

func TestMarkdown(t *testing.T) {
	all := func(action string) map[string]testResult {
		m := map[string]testResult{}
		for _, tc := range tests {
			m[tc.name] = testResult{action: action, elapsed: 1500 * time.Millisecond}
		}
		return m
	}
	bad := all("pass")
	bad["TestRestoreKilled"] = testResult{action: "fail", elapsed: time.Minute, failed: []string{"late"}, first: "kill_test.go:9: 2 duplicates"}
	bad["TestBackupS3"] = testResult{action: "fail", elapsed: time.Second}
	d := report{
		date:    time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
		command: "go run ./test/compat -out docs/compatibility.md",
		goVer:   "go1.26.0", javaVer: `openjdk version "17.0.15"`, cores: 2, load: [2]string{"1.50", "3.25"},
		wall: 5 * time.Minute,
		results: []result{
			{kafka: "3.9.2", startup: 2100 * time.Millisecond, wall: 90 * time.Second, tests: all("pass")},
			{kafka: "4.0.2", startup: 2 * time.Second, wall: 80 * time.Second, tests: bad},
			{kafka: "4.4.0", problem: "start: java exited"},
		},
	}
	md := string(d.markdown())
	for _, want := range []string{
		"- Date: 2026-12-01 10:00 UTC",
		"| 3.9.2 | 2.1 s | pass 1.5 s | pass 1.5 s | pass 1.5 s | pass 1.5 s | pass 1.5 s | 90.0 s |",
		"| 4.0.2 | 2.0 s | pass 1.5 s | fail 1.0 s | pass 1.5 s | fail 60.0 s | pass 1.5 s | 80.0 s |",
		"| 4.4.0 | – | not run | not run | not run | not run | not run | – |",
		"- 4.0.2: TestBackupS3 failed\n",
		"- 4.0.2: TestRestoreKilled failed in late: `kill_test.go:9: 2 duplicates`",
		"- 4.4.0: start: java exited",
		"`go run ./test/compat -out docs/compatibility.md`",
		`Go: go1.26.0; Java: openjdk version "17.0.15"; 2 cores, load average 1.50 at start, 3.25 at end`,
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown lacks %q:\n%s", want, md)
		}
	}
	if d := cmp.Diff([]string{"4.0.2", "4.4.0"}, d.failed()); d != "" {
		t.Errorf("failed releases (-want +got):\n%s", d)
	}
}
