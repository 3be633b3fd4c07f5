// Command compat is `make test-compat`: it runs the core e2e subset (tests
// below) against every Apache Kafka release test/realkafka pins
// (realkafka.Versions), one after another, and writes the table of release ×
// test to docs/compatibility.md. It runs inside scripts/test-env.sh, which
// installs and starts what the e2e suite needs and sets KFERRY_TEST_KAFKA=1;
// each release is picked with KFERRY_TEST_KAFKA_VERSION. The file is written
// also when a test fails (the table says which), and the exit status is then 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/kferry/kferry/test/realkafka"
)

// test is one e2e test of the subset and what it proves, for the legend.
type test struct{ name, what string }

// tests is the core subset of issue 11: round trip, backup/restore, exact
// group offsets, SIGKILL restore, migrate.
var tests = []test{
	{"TestKcatInterop", "kcat produces keyed records with headers, kferry exports them (json, bytes) to S3 and imports them renamed, kcat reads them back identical"},
	{"TestBackupS3", "backup of 3 topics with consumer groups to S3, verify, restore into an empty cluster: every record, the groups on the same records"},
	{"TestBackupRestoreFidelity", "backup → restore of a compacted topic and of aborted and committed transactions: keys, tombstones, headers, timestamps, each group offset on the same record across markers and compaction gaps; verify against the live topics; --until"},
	{"TestRestoreKilled", "restore SIGKILLed at 9 points (topics created, before any commit, 10/45/80 %, last transaction open, records done but not the group offsets, twice in a row), run again: every record exactly once, in order, groups on the same records"},
	{"TestMigrateLiveCutover", "migrate while a producer and a consuming group run, then --cutover: every record once, in order, the group's offsets on the target"},
}

// notes are what a person found out about a release that the table cannot
// say (a true incompatibility, a workaround); rendered under the table.
var notes = map[string]string{}

// result is one release's run.
type result struct {
	kafka   string
	startup time.Duration // one single-node broker, started alone
	wall    time.Duration // the go test run
	tests   map[string]testResult
	problem string // what went wrong outside the tests (start, go test itself)
}

func main() {
	out := flag.String("out", "docs/compatibility.md", "the Markdown file to write")
	only := flag.String("versions", "", "comma-separated releases to run (default: every row of test/realkafka/versions.go)")
	flag.Parse()
	if err := run(*out, *only); err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		os.Exit(1)
	}
}

func run(out, only string) error {
	if os.Getenv("KFERRY_TEST_KAFKA") != "1" {
		return errors.New("KFERRY_TEST_KAFKA is not 1: run `make test-compat` (scripts/test-env.sh sets up the services)")
	}
	versions, err := pick(only)
	if err != nil {
		return err
	}
	doc := report{
		date:    time.Now().UTC(),
		command: strings.TrimSpace("go run ./test/compat " + strings.Join(os.Args[1:], " ")),
		goVer:   firstLine(exec.Command(goCmd(), "env", "GOVERSION")),
		cores:   runtime.NumCPU(),
	}
	java, _, err := realkafka.Prerequisites()
	if err != nil {
		return err
	}
	doc.javaVer = firstLine(exec.Command(java, "-version"))
	doc.load[0] = loadAverage()
	began := time.Now()
	for _, v := range versions {
		r := runVersion(v)
		doc.results = append(doc.results, r)
		logf("%s: %s", v, r.summary())
	}
	doc.wall = time.Since(began)
	doc.load[1] = loadAverage()
	if err := os.WriteFile(out, doc.markdown(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	logf("wrote %s; the matrix took %s", out, doc.wall.Round(time.Second))
	if failed := doc.failed(); len(failed) > 0 {
		return fmt.Errorf("failures on Apache Kafka %s (see %s)", strings.Join(failed, ", "), out)
	}
	return nil
}

// pick returns the releases to run: every row, or those named.
func pick(only string) ([]string, error) {
	if only == "" {
		var all []string
		for _, v := range realkafka.Versions {
			all = append(all, v.Kafka)
		}
		return all, nil
	}
	names := strings.Split(only, ",")
	for _, v := range names {
		if _, err := realkafka.Lookup(v); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// runVersion resolves the release, times one broker's start, then runs the
// subset on it.
func runVersion(v string) result {
	r := result{kafka: v}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Resolving the jars (minutes, once per machine) is not broker startup.
	if _, err := realkafka.Ensure(ctx, v, logf); err != nil {
		r.problem = fmt.Sprintf("install: %v", err)
		return r
	}
	c, err := realkafka.Start(ctx, realkafka.Options{Version: v, Logf: func(string, ...any) {}})
	if err != nil {
		r.problem = fmt.Sprintf("start: %v", err)
		return r
	}
	r.startup = c.StartupTime()
	c.Close()
	logf("%s: one broker served after %s; running %d tests", v, r.startup.Round(100*time.Millisecond), len(tests))
	began := time.Now()
	r.tests, r.problem = goTest(v)
	r.wall = time.Since(began)
	return r
}

func (r result) summary() string {
	if r.problem != "" {
		return r.problem
	}
	var parts []string
	for _, t := range tests {
		parts = append(parts, t.name+" "+r.tests[t.name].cell())
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" (%s)", r.wall.Round(time.Second))
}

func goCmd() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

// firstLine runs cmd and returns the first line it printed (stdout or
// stderr: java -version writes to stderr), or the error.
func firstLine(cmd *exec.Cmd) string {
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Sprintf("unknown (%s: %v)", strings.Join(cmd.Args, " "), err)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// loadAverage is the 1-minute load average (Linux), or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	first, _, _ := strings.Cut(string(b), " ")
	return first
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compat: "+format+"\n", args...)
}
