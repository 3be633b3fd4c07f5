package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// testResult is how one top-level test ended.
type testResult struct {
	action  string        // pass, fail or skip; empty: the test did not run
	elapsed time.Duration // from its start (or its resumption after t.Parallel) to its end, subtests included
	failed  []string      // the subtests that failed
	first   string        // a failed test's first error line
}

func (t testResult) cell() string {
	if t.action == "" {
		return "not run"
	}
	return fmt.Sprintf("%s %.1f s", t.action, t.elapsed.Seconds())
}

// event is a line of `go test -json` (cmd/test2json).
type event struct {
	Time   time.Time
	Action string
	Test   string
	Output string
}

// runRegexp selects exactly the subset's top-level tests (and their subtests).
func runRegexp() string {
	names := make([]string, len(tests))
	for i, t := range tests {
		names[i] = t.name
	}
	return "^(" + strings.Join(names, "|") + ")$"
}

// goTest runs the subset on Apache Kafka kafka and returns each test's
// result, and a problem when go test failed outside them (a build error, a
// TestMain that could not start the brokers, a test that did not run).
func goTest(kafka string) (map[string]testResult, string) {
	// -count=1: the e2e tests run a binary built from the tree, which the
	// test cache cannot see. -timeout: as `make test`.
	cmd := exec.Command(goCmd(), "test", "-count=1", "-json", "-timeout", "20m", "-run", runRegexp(), "./test/e2e/")
	cmd.Env = append(os.Environ(), "KFERRY_TEST_KAFKA_VERSION="+kafka)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err.Error()
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Sprintf("go test: %v", err)
	}
	results, tail, perr := parse(stdout, func(name string, r testResult, output []string) {
		logf("%s: %s %s", kafka, name, r.cell())
		if r.action == "fail" {
			fmt.Fprint(os.Stderr, strings.Join(output, ""))
		}
	})
	werr := cmd.Wait()
	switch {
	case perr != nil:
		return results, fmt.Sprintf("read go test -json: %v", perr)
	case werr != nil && !anyFailed(results):
		return results, fmt.Sprintf("go test: %v: %s", werr, strings.Join(tail, " | "))
	}
	for _, t := range tests {
		if results[t.name].action == "" {
			return results, t.name + " did not run (renamed? see test/compat's tests)"
		}
	}
	return results, ""
}

// parse reads go test -json output. done is called as each top-level test
// ends, with its output (and its subtests'). tail is the package's last
// output lines that belong to no test (TestMain's, go test's).
func parse(r io.Reader, done func(name string, res testResult, output []string)) (results map[string]testResult, tail []string, err error) {
	results = map[string]testResult{}
	output := map[string][]string{}
	// The Elapsed of go test leaves out a parent's parallel subtests, and
	// each test here runs its own, so the time between events is taken:
	// from "run", or from "cont" for a test that waited after t.Parallel.
	started := map[string]time.Time{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// go test prints build errors as plain lines.
			tail = lastLines(append(tail, sc.Text()), 10)
			continue
		}
		top, sub, isSub := strings.Cut(e.Test, "/")
		switch {
		case e.Test == "" && e.Action == "output":
			tail = lastLines(append(tail, strings.TrimSpace(e.Output)), 10)
		case e.Action == "output":
			output[top] = append(output[top], e.Output)
		case !isSub && (e.Action == "run" || e.Action == "cont"):
			started[top] = e.Time
		case e.Action == "fail" && isSub:
			res := results[top]
			res.failed = append(res.failed, sub)
			results[top] = res
		case e.Test != "" && !isSub && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
			res := results[top]
			res.action = e.Action
			res.elapsed = e.Time.Sub(started[top])
			if e.Action == "fail" {
				res.first = firstError(output[top])
			}
			results[top] = res
			if done != nil {
				done(top, res, output[top])
			}
			delete(output, top)
		}
	}
	return results, tail, sc.Err()
}

// firstError is the first line t.Error or t.Fatal wrote ("    x_test.go:12: ...").
func firstError(output []string) string {
	for _, line := range output {
		if line := strings.TrimSpace(line); strings.Contains(line, "_test.go:") {
			return line
		}
	}
	return ""
}

func anyFailed(results map[string]testResult) bool {
	for _, r := range results {
		if r.action == "fail" {
			return true
		}
	}
	return false
}

func lastLines(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}
