// Package apicurio runs Apicurio Registry, a real Schema Registry server with
// Confluent's REST API (/apis/ccompat/v7), from its Maven Central artifact
// (io.apicurio:apicurio-registry-app, the "all" tar.gz: a Quarkus runner jar
// and its libs) for tests: one JVM with a small heap and in-memory storage,
// on 127.0.0.1, stopped by its pid at cleanup.
//
// 3.0.9 is the newest release that runs on Java 17 (3.1 and later need Java
// 21, and the test machines have Debian 12's Java 17).
package apicurio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/kferry/kferry/test/realkafka"
)

// Version is the Apicurio Registry release the tests run.
const Version = "3.0.9"

const runner = "apicurio-registry-app-" + Version + "-runner.jar"

// TB is the part of testing.TB that Start needs.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Cleanup(func())
	TempDir() string
	Logf(format string, args ...any)
}

// Gate says whether tests on Apicurio run: with KFERRY_TEST_APICURIO=1
// (scripts/test-env.sh sets it when java and mvn are there); without it they
// skip, except under CI=true, where that is an error.
func Gate() (skip string, err error) {
	switch os.Getenv("KFERRY_TEST_APICURIO") {
	case "1":
		_, _, err := realkafka.Prerequisites()
		return "", err
	case "":
		if os.Getenv("CI") == "true" {
			return "", errors.New("CI=true but KFERRY_TEST_APICURIO is not set; run the tests through scripts/test-env.sh")
		}
		return "KFERRY_TEST_APICURIO not set: run through scripts/test-env.sh, or set it to 1 to run Apicurio Registry from Maven Central (java 17+ and mvn needed)", nil
	}
	return "", fmt.Errorf("KFERRY_TEST_APICURIO=%q: want 1 or nothing", os.Getenv("KFERRY_TEST_APICURIO"))
}

// ensure returns the folder holding the runner jar, resolving the artifact
// with Maven into the cache when missing (into a temporary folder renamed
// into place, so a killed run leaves nothing half made).
func ensure(ctx context.Context, mvn string) (string, error) {
	cache, err := realkafka.CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "apicurio-"+Version)
	if _, err := os.Stat(filepath.Join(dir, runner)); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(cache, "apicurio-"+Version+".tmp-")
	if err != nil {
		return "", err
	}
	defer func() { _ = os.RemoveAll(tmp) }() // gone after the rename; else a failed attempt
	steps := [][]string{
		{mvn, "-q", "-B", "dependency:copy", "-Dartifact=io.apicurio:apicurio-registry-app:" + Version + ":tar.gz:all",
			"-DoutputDirectory=" + tmp, "-Dmaven.repo.local=" + filepath.Join(cache, "m2")},
		{"tar", "-xzf", "apicurio-registry-app-" + Version + "-all.tar.gz"},
	}
	for _, s := range steps {
		cmd := exec.CommandContext(ctx, s[0], s[1:]...)
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("%s: %w\n%s", s[0], err, out)
		}
	}
	_ = os.Remove(filepath.Join(tmp, "apicurio-registry-app-"+Version+"-all.tar.gz")) // only takes space
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, runner)); serr == nil {
			return dir, nil // another test process made it meanwhile
		}
		return "", err
	}
	return dir, nil
}

// Start runs a registry for the test and returns its Confluent-compatible
// base URL; it skips or fails the test as Gate says.
func Start(t TB) string {
	t.Helper()
	skip, err := Gate()
	if err != nil {
		t.Fatalf("%v", err)
	}
	if skip != "" {
		t.Skip(skip)
	}
	java, mvn, err := realkafka.Prerequisites()
	if err != nil {
		t.Fatalf("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir, err := ensure(ctx, mvn)
	if err != nil {
		t.Fatalf("install Apicurio Registry %s: %v", Version, err)
	}
	for attempt := range 3 {
		url, err := launch(ctx, t, java, dir)
		if err == nil {
			return url
		}
		t.Logf("Apicurio Registry attempt %d: %v", attempt+1, err)
	}
	t.Fatalf("Apicurio Registry %s did not start", Version)
	return ""
}

// launch starts one JVM on a free port and waits until the API answers.
func launch(ctx context.Context, t TB, java, dir string) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	work := t.TempDir()
	logPath := filepath.Join(work, "apicurio.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	// The child has its own descriptor of the log.
	defer func() { _ = logf.Close() }()
	args := []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dquarkus.http.host=127.0.0.1", "-Dquarkus.http.port=" + strconv.Itoa(port), "-jar", filepath.Join(dir, runner)}
	cmd := exec.Command(java, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = work, logf, logf
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{})
	var waitErr error // set before exited closes
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill() // by its pid; it may have exited already
		<-exited
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port) + "/apis/ccompat/v7"
	deadline := time.Now().Add(3 * time.Minute)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			body, _ := os.ReadFile(logPath) // the error says what it can without it
			return "", fmt.Errorf("exited (%w): %s", waitErr, tail(body))
		case <-ctx.Done():
			stop()
			return "", ctx.Err()
		case <-tick.C:
		}
		if ready(base) {
			t.Cleanup(stop)
			return base, nil
		}
	}
	stop()
	return "", errors.New("no answer within 3 minutes")
}

func ready(base string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(base + "/subjects")
	if err != nil {
		return false
	}
	_ = resp.Body.Close() // only the status matters
	return resp.StatusCode == http.StatusOK
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }() // released for the JVM; a race is retried by Start
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("not a TCP address")
	}
	return addr.Port, nil
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
