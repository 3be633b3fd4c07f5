// Package e2e tests the built kferry binary from the outside: it runs it with
// os/exec against Kafka clusters, kcat and real protocol servers for S3, Cloud
// Storage and Azure Blob.
//
// The clusters are real Apache Kafka brokers when KFERRY_TEST_KAFKA=1, which
// `make test` sets: TestMain starts a pool of single-node brokers
// (test/realkafka, the default release or KFERRY_TEST_KAFKA_VERSION) and each
// test leases the ones it needs, emptied for it (pool_test.go). Without it
// they are franz-go's in-process kfake clusters, fresh for every test.
// newCluster (cluster_test.go) is the one place that picks; the few tests
// that inject faults only kfake can (kafkafaults_test.go) use kfake always.
//
// kcat and the servers come from the environment that `make test` sets up
// (scripts/test-env.sh): KFERRY_TEST_KCAT, KFERRY_TEST_S3_ENDPOINT,
// KFERRY_TEST_S3_ACCESS_KEY, KFERRY_TEST_S3_SECRET_KEY and
// KFERRY_TEST_S3_USER_ACCESS_KEY/_SECRET_KEY (a user that owns no bucket),
// KFERRY_TEST_GCS_ENDPOINT (fake-gcs-server), KFERRY_TEST_AZURE_ENDPOINT,
// KFERRY_TEST_AZURE_ACCOUNT/_KEY and KFERRY_TEST_AZURE_OTHER_ACCOUNT/_KEY
// (Azurite). Without them the tests that need them skip, except under
// CI=true, where TestMain fails instead.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/test/realkafka"
)

// kferryBin is the binary TestMain builds once for every test.
var kferryBin string

// env is what scripts/test-env.sh exported; empty fields are missing.
var env struct {
	kcat                   string
	s3Endpoint             string
	s3Access, s3Secret     string
	userAccess, userSecret string
	gcsEndpoint            string
	azureEndpoint          string
	azureAccount, azureKey string
	azureOther, otherKey   string
}

// wrongSecret is a secret key that the S3 server refuses; like the real secrets it
// must never appear in kferry's output.
const wrongSecret = "wrong-secret-5f0e1d2c3b4a"

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	env.kcat = os.Getenv("KFERRY_TEST_KCAT")
	env.s3Endpoint = os.Getenv("KFERRY_TEST_S3_ENDPOINT")
	env.s3Access = os.Getenv("KFERRY_TEST_S3_ACCESS_KEY")
	env.s3Secret = os.Getenv("KFERRY_TEST_S3_SECRET_KEY")
	env.userAccess = os.Getenv("KFERRY_TEST_S3_USER_ACCESS_KEY")
	env.userSecret = os.Getenv("KFERRY_TEST_S3_USER_SECRET_KEY")
	env.gcsEndpoint = os.Getenv("KFERRY_TEST_GCS_ENDPOINT")
	env.azureEndpoint = os.Getenv("KFERRY_TEST_AZURE_ENDPOINT")
	env.azureAccount = os.Getenv("KFERRY_TEST_AZURE_ACCOUNT")
	env.azureKey = os.Getenv("KFERRY_TEST_AZURE_KEY")
	env.azureOther = os.Getenv("KFERRY_TEST_AZURE_OTHER_ACCOUNT")
	env.otherKey = os.Getenv("KFERRY_TEST_AZURE_OTHER_KEY")
	if os.Getenv("CI") == "true" {
		if missing := missingEnv(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "e2e: CI=true but %s not set; run the tests with `make test` (scripts/test-env.sh sets them)\n", strings.Join(missing, ", "))
			return 1
		}
	}
	skipKafka, err := realkafka.Gate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "kferry-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }() // best effort: a leftover temporary folder harms nothing
	kferryBin = filepath.Join(dir, "kferry")
	// Static, as released (CGO_ENABLED=0): the image test builds the same.
	build := exec.Command("go", "build", "-o", kferryBin, "github.com/kferry/kferry/cmd/kferry")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build: %v\n%s", err, out)
		return 1
	}
	if skipKafka != "" {
		report("e2e: Kafka is kfake (in process); %s", skipKafka)
		return m.Run()
	}
	if err := startBrokers(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer brokers.close()
	began := time.Now()
	code := m.Run()
	report("e2e: %s after %s on Apache Kafka %s: %s", map[bool]string{true: "passed", false: "FAILED"}[code == 0],
		time.Since(began).Round(time.Second), realkafka.DefaultVersion(), brokers.summary())
	return code
}

// poolStart is how many brokers TestMain starts; tests lease more as needed.
const poolStart = 4

// startBrokers starts the first brokers of the pool and reports the Kafka
// release and how long they took.
func startBrokers() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	// Resolving the release's jars (once per machine) is not broker startup.
	if _, err := realkafka.Ensure(ctx, realkafka.DefaultVersion(), func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "e2e: "+format+"\n", args...)
	}); err != nil {
		return err
	}
	resolved := time.Since(began)
	began = time.Now()
	if err := brokers.start(ctx, poolStart); err != nil {
		brokers.close()
		return fmt.Errorf("start Apache Kafka %s: %w", realkafka.DefaultVersion(), err)
	}
	report("e2e: Kafka is Apache Kafka %s (KFERRY_TEST_KAFKA=1): %d single-node brokers serving %s after start (jars ready in %s)",
		realkafka.DefaultVersion(), poolStart, time.Since(began).Round(10*time.Millisecond), resolved.Round(10*time.Millisecond))
	return nil
}

// report prints a line on stderr, and appends it to $KFERRY_TEST_SUMMARY when
// set: go test shows a passing package's output only with -v, and
// scripts/test-env.sh prints that file when the tests end.
func report(format string, args ...any) {
	line := fmt.Sprintf(format, args...) + "\n"
	fmt.Fprint(os.Stderr, line)
	path := os.Getenv("KFERRY_TEST_SUMMARY")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
	}
}

func missingEnv() []string {
	var missing []string
	for name, v := range map[string]string{
		"KFERRY_TEST_KCAT":                env.kcat,
		"KFERRY_TEST_S3_ENDPOINT":         env.s3Endpoint,
		"KFERRY_TEST_S3_ACCESS_KEY":       env.s3Access,
		"KFERRY_TEST_S3_SECRET_KEY":       env.s3Secret,
		"KFERRY_TEST_S3_USER_ACCESS_KEY":  env.userAccess,
		"KFERRY_TEST_S3_USER_SECRET_KEY":  env.userSecret,
		"KFERRY_TEST_GCS_ENDPOINT":        env.gcsEndpoint,
		"KFERRY_TEST_AZURE_ENDPOINT":      env.azureEndpoint,
		"KFERRY_TEST_AZURE_ACCOUNT":       env.azureAccount,
		"KFERRY_TEST_AZURE_KEY":           env.azureKey,
		"KFERRY_TEST_AZURE_OTHER_ACCOUNT": env.azureOther,
		"KFERRY_TEST_AZURE_OTHER_KEY":     env.otherKey,
	} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	return missing
}

// needKcat skips the test when kcat is not available.
func needKcat(t *testing.T) {
	t.Helper()
	if env.kcat == "" {
		t.Skip("KFERRY_TEST_KCAT not set: run `make test` to install kcat and run this test")
	}
}

// needS3 skips the test when no S3 server was started for the tests.
func needS3(t *testing.T) {
	t.Helper()
	if env.s3Endpoint == "" || env.s3Access == "" || env.s3Secret == "" || env.userAccess == "" || env.userSecret == "" {
		t.Skip("KFERRY_TEST_S3_* not set: run `make test` to start an S3 server (versitygw) for this test")
	}
}

// needGCS skips the test when no Cloud Storage emulator was started for the tests.
func needGCS(t *testing.T) {
	t.Helper()
	if env.gcsEndpoint == "" {
		t.Skip("KFERRY_TEST_GCS_ENDPOINT not set: run `make test` to start a Cloud Storage emulator (fake-gcs-server) for this test")
	}
}

// needAzure skips the test when no Azure Storage emulator was started for the tests.
func needAzure(t *testing.T) {
	t.Helper()
	if env.azureEndpoint == "" || env.azureAccount == "" || env.azureKey == "" || env.azureOther == "" || env.otherKey == "" {
		t.Skip("KFERRY_TEST_AZURE_* not set: run `make test` to start an Azure Storage emulator (Azurite) for this test")
	}
}

// secrets are the values no output of kferry may contain.
func secrets() []string {
	out := []string{wrongSecret, wrongAzureKey}
	for _, s := range []string{env.s3Secret, env.userSecret, env.azureKey, env.otherKey} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// result is one finished run of the binary.
type result struct {
	args           []string
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("kferry %s: exit %d after %s\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
}

// runOpts adjust one run of the binary.
type runOpts struct {
	env     []string      // extra NAME=value entries
	timeout time.Duration // default 60s
}

// kferry runs the binary with a clean environment (no KFERRY_, AWS_ or recipe
// variables from the caller) plus o.env, and fails the test if it does not end
// within the timeout or if its output holds a secret.
func kferry(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	if o.timeout == 0 {
		o.timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kferryBin, args...)
	cmd.Env = append(baseEnv(t), o.env...)
	cmd.Stdin = nil
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("kferry %s: no exit within %s\n%s", strings.Join(args, " "), o.timeout, r)
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("run kferry: %v", err)
	}
	for _, s := range secrets() {
		if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
			shown := strings.ReplaceAll(r.String(), s, "<SECRET>")
			t.Errorf("a secret key (shown as <SECRET>) appears in the output of kferry:\n%s", shown)
		}
	}
	return r
}

// baseEnv is the caller's environment without anything that would steer kferry.
func baseEnv(t *testing.T) []string {
	drop := []string{"KFERRY_", "AWS_", "SOURCE_", "SINK_", "S3_BUCKET=", "REGION=", "TOPIC_REGEX_LIST=",
		"AZURE_", "STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS="}
	var out []string
next:
	for _, kv := range os.Environ() {
		for _, p := range drop {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		out = append(out, kv)
	}
	// No shared AWS config or instance metadata: only what a test passes counts.
	none := filepath.Join(t.TempDir(), "none")
	return append(out, "AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none, "AWS_EC2_METADATA_DISABLED=true")
}

// mustSucceed fails the test unless the run exited 0.
func mustSucceed(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
}

// wantError asserts the exit code and that stderr ends with exactly one error
// line "kferry: ..." holding every fragment.
func wantError(t *testing.T, r result, code int, fragments ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code %d, want %d\n%s", r.code, code, r)
		return
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	var errLines []string
	for _, l := range lines {
		if strings.HasPrefix(l, "kferry:") {
			errLines = append(errLines, l)
		}
	}
	last := lines[len(lines)-1]
	if len(errLines) != 1 || !strings.HasPrefix(last, "kferry: ") {
		t.Errorf("want stderr to end in one line `kferry: ...`, got %d such lines\n%s", len(errLines), r)
		return
	}
	t.Logf("exit %d after %s: %s", r.code, r.elapsed.Round(time.Millisecond), last)
	for _, f := range fragments {
		if !strings.Contains(last, f) {
			t.Errorf("error line lacks %q: %s", f, last)
		}
	}
}
