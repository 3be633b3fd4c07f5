package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kferry/kferry/pkg/record"
)

// produce writes n JSON records with keys and a header into topic's partition p.
func produce(t *testing.T, c cluster, topic string, p int32, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []record.Record
	for i := range n {
		recs = append(recs, record.Record{Topic: topic, Partition: p, Key: []byte("k"), Value: []byte(`{"i":` + strconv.Itoa(i) + `}`),
			Headers: []record.Header{{Key: "h", Value: []byte("v")}}})
	}
	if err := c.Produce(ctx, recs); err != nil {
		t.Fatalf("produce into %s/%d: %v", topic, p, err)
	}
}

// TestUnreachableBroker: a broker that refuses connections fails at once; one that
// accepts them and never answers fails within the default timeout's bound (15 s,
// the contract) and within --timeout's when given.
func TestUnreachableBroker(t *testing.T) {
	t.Parallel()
	silent := silentBroker(t)
	for _, tc := range []struct {
		name   string
		broker string
		args   []string
		bound  time.Duration
		reason string
	}{
		{"refused", "127.0.0.1:1", []string{"export", "--topics", "t"}, 15 * time.Second, "connection refused"},
		{"silent default timeout", silent, []string{"export", "--topics", "t"}, 15 * time.Second, "no answer within 10s"},
		{"silent --timeout 2s", silent, []string{"export", "--topics", "t", "--timeout", "2s"}, 5 * time.Second, "no answer within 2s"},
		{"silent import --timeout 2s", silent, []string{"import", "--timeout", "2s"}, 5 * time.Second, "no answer within 2s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bucket, dir := fileURL(t)
			if tc.args[0] == "import" {
				// import reads the bucket before Kafka; give it an object to read.
				writeFile(t, filepath.Join(dir, "topics/t/partition=0/t+0+0000000000.json"), "{}\n")
				tc.args = append(tc.args, "--from", bucket)
			} else {
				tc.args = append(tc.args, "--to", bucket)
			}
			r := kferry(t, runOpts{timeout: 60 * time.Second}, append(tc.args, "--brokers", tc.broker)...)
			wantError(t, r, 1, "kafka unreachable", tc.broker, tc.reason)
			if r.elapsed > tc.bound {
				t.Errorf("failed after %s, want within %s", r.elapsed, tc.bound)
			}
		})
	}
}

// silentBroker listens on 127.0.0.1, accepts connections and never answers, like
// a broker behind a black-holing firewall or a wrong port of a busy service.
func silentBroker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func TestUnknownTopic(t *testing.T) {
	t.Parallel()
	_, brokers := newCluster(t, map[string]int32{"present": 1})
	bucket, _ := fileURL(t)
	r := kferry(t, runOpts{}, "export", "--brokers", brokers, "--topics", "present,absent", "--to", bucket)
	wantError(t, r, 1, "unknown topic", "absent")
}

// TestS3Errors: the classic bucket failures on a real S3 server, for export,
// import and ls, each one line naming the bucket, with no secret in any output
// (kferry's run helper checks every run for the secret keys).
func TestS3Errors(t *testing.T) {
	needS3(t)
	t.Parallel()
	_, brokers := newCluster(t, map[string]int32{"t": 1})
	owned := createBucket(t) // by root; the non-admin user has no access to it
	missing := bucketName(t) + "-missing"
	for _, tc := range []struct {
		name      string
		url       string
		env       []string
		fragments []string
	}{
		{"missing bucket", s3URL(missing), rootEnv(), []string{"bucket not found", missing, "NoSuchBucket"}},
		{"permission denied", s3URL(owned), s3Env(env.userAccess, env.userSecret), []string{"access to bucket denied", owned, "may not access it", "AccessDenied"}},
		{"wrong secret key", s3URL(owned), s3Env(env.s3Access, wrongSecret), []string{"access to bucket denied", owned, "credentials were refused", "SignatureDoesNotMatch"}},
		{"unknown access key", s3URL(owned), s3Env("no-such-user", wrongSecret), []string{"access to bucket denied", owned, "credentials were refused"}},
		{"no credentials", s3URL(owned), nil, []string{"access to bucket denied", owned, "no credentials found"}},
		{"unreachable endpoint", "s3://" + owned + "?endpoint=http://127.0.0.1:1&use_path_style=true&region=us-east-1", rootEnv(), []string{owned, "127.0.0.1:1", "connection refused"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, args := range [][]string{
				{"export", "--brokers", brokers, "--topics", "t", "--to", tc.url},
				{"import", "--brokers", brokers, "--from", tc.url},
				{"ls", tc.url},
				{"backup", "--brokers", brokers, "--topics", "t", "--to", tc.url},
				// Debug logs in JSON must not leak the secret either.
				{"--log-level", "debug", "--log-format", "json", "export", "--brokers", brokers, "--topics", "t", "--to", tc.url},
			} {
				r := kferry(t, runOpts{env: tc.env}, args...)
				wantError(t, r, 1, tc.fragments...)
			}
		})
	}
}

// TestMissingLocalFolder: export and backup create a missing local folder;
// import, restore and ls from one fail as a missing bucket.
func TestMissingLocalFolder(t *testing.T) {
	t.Parallel()
	c, brokers := newCluster(t, map[string]int32{"t": 1})
	produce(t, c, "t", 0, 3)
	dir := filepath.Join(t.TempDir(), "not", "yet")
	mustSucceed(t, kferry(t, runOpts{}, "export", "--brokers", brokers, "--topics", "t", "--to", dir))
	if _, err := os.Stat(filepath.Join(dir, "topics/t/partition=0/t+0+0000000000.json")); err != nil {
		t.Errorf("export into a new folder: %v", err)
	}
	backupDir := filepath.Join(t.TempDir(), "backup", "new")
	mustSucceed(t, kferry(t, runOpts{}, "backup", "--brokers", brokers, "--topics", "t", "--to", "file://"+backupDir))
	if entries, err := os.ReadDir(filepath.Join(backupDir, "_kferry/backups")); err != nil || len(entries) != 1 {
		t.Errorf("backup into a new folder: manifests %v, %v", entries, err)
	}
	gone := filepath.Join(t.TempDir(), "gone")
	wantError(t, kferry(t, runOpts{}, "import", "--brokers", brokers, "--from", "file://"+gone), 1, "bucket not found", gone)
	wantError(t, kferry(t, runOpts{}, "restore", "--brokers", brokers, "--from", "file://"+gone), 1, "bucket not found", gone)
	wantError(t, kferry(t, runOpts{}, "ls", gone), 1, "bucket not found", gone)
}

// TestMalformedJSONLine: a broken line in a JSON object on S3 fails the import
// with the object's key and the line number.
func TestMalformedJSONLine(t *testing.T) {
	needS3(t)
	t.Parallel()
	_, brokers := newCluster(t, nil)
	bucket := createBucket(t)
	key := "topics/broken/partition=0/broken+0+0000000000.json"
	putObject(t, bucket, key, []byte("{\"a\":1}\n{\"b\":2}\n{\"c\": oops}\n{\"d\":4}\n"))
	r := kferry(t, runOpts{env: rootEnv()}, "import", "--brokers", brokers, "--from", s3URL(bucket))
	wantError(t, r, 1, key, "line 3")
}

// TestUnparsableObjectName: a key under topics/ that is no Confluent object name is
// skipped with a warning, and is an error with --strict.
func TestUnparsableObjectName(t *testing.T) {
	t.Parallel()
	_, brokers := newCluster(t, nil)
	bucket, dir := fileURL(t)
	writeFile(t, filepath.Join(dir, "topics/odd/partition=0/odd+0+0000000000.json"), "{\"a\":1}\n")
	stray := "topics/odd/partition=0/notes.txt"
	writeFile(t, filepath.Join(dir, stray), "written by hand\n")

	r := kferry(t, runOpts{}, "import", "--brokers", brokers, "--from", bucket, "--strict")
	wantError(t, r, 1, stray)

	r = kferry(t, runOpts{}, "import", "--brokers", brokers, "--from", bucket)
	mustSucceed(t, r)
	if out := r.stdout + r.stderr; !strings.Contains(out, "warning") && !strings.Contains(out, "WARN") || !strings.Contains(out, stray) {
		t.Errorf("no warning naming %s:\n%s", stray, r)
	}
	if !strings.Contains(r.stdout, "total: 1 records") {
		t.Errorf("want the one valid record imported:\n%s", r)
	}
}

// TestTooFewTargetPartitions: an existing target with fewer partitions than the
// bucket's source is an error before anything is written.
func TestTooFewTargetPartitions(t *testing.T) {
	t.Parallel()
	c, brokers := newCluster(t, map[string]int32{"wide": 4, "narrow": 2})
	produce(t, c, "wide", 3, 2)
	bucket, _ := fileURL(t)
	mustSucceed(t, kferry(t, runOpts{}, "export", "--brokers", brokers, "--topics", "wide", "--to", bucket))
	r := kferry(t, runOpts{}, "import", "--brokers", brokers, "--from", bucket, "--rename", "wide=narrow")
	wantError(t, r, 1, "too few partitions", "narrow")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := c.ReadAll(ctx, "narrow")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("records were written into narrow before the error: %v", got)
	}
}

// TestNonJSONValue: --format json refuses a value that is not JSON, naming the
// topic, partition and offset and the flag that would carry it.
func TestNonJSONValue(t *testing.T) {
	needKcat(t)
	t.Parallel()
	_, brokers := newCluster(t, map[string]int32{"mixed": 3})
	kcatProduce(t, brokers, "mixed", []batch{{partition: 2, records: [][2]string{{"a", `{"ok":1}`}, {"b", "this is not JSON"}}}})
	bucket, _ := fileURL(t)
	r := kferry(t, runOpts{}, "export", "--brokers", brokers, "--topics", "mixed", "--format", "json", "--to", bucket)
	wantError(t, r, 1, "mixed", "2", "offset 1", "not JSON", "--format bytes")
}

// TestBadFlags: usage errors exit 2 with a message that says what is wrong.
func TestBadFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args     []string
		fragment string
	}{
		{[]string{"export", "--no-such-flag"}, "unknown flag"},
		{[]string{"export", "--brokers", "127.0.0.1:1", "--topics", "t"}, "--to"},
		{[]string{"export", "--brokers", "127.0.0.1:1", "--topics", "t", "--to", "file:///tmp/x", "--format", "yaml"}, "yaml"},
		{[]string{"export", "--brokers", "127.0.0.1:1", "--topics", "t", "--to", "file:///tmp/x", "--compression", "lzma"}, "lzma"},
		{[]string{"export", "--brokers", "127.0.0.1:1", "--topics", "t", "--to", "ftp://host/x"}, "ftp"},
		// A key in the URL is refused without being shown.
		{[]string{"ls", "s3://b?region=us-east-1&secret_key=" + wrongSecret}, "secret_key=REDACTED"},
		{[]string{"export", "--brokers", "127.0.0.1:1", "--topics", "t", "--to", "file:///tmp/x", "--store-headers", "--headers-format", "bytes"}, "--headers-format"},
		{[]string{"export", "--brokers", "127.0.0.1:1", "--topic-regex", "(", "--to", "file:///tmp/x"}, "--topic-regex"},
		{[]string{"export", "--timeout", "soon"}, "soon"},
		{[]string{"import", "--brokers", "127.0.0.1:1", "--from", "file:///tmp/x", "--rename", "no-equals-sign"}, "--rename"},
		{[]string{"import", "--brokers", "127.0.0.1:1", "--from", "file:///tmp/x", "--files", "no-colon"}, "--files"},
		{[]string{"import", "--brokers", "127.0.0.1:1"}, "--from"},
		{[]string{"cat"}, "argument"},
		{[]string{"ls", "a", "b"}, "argument"},
		{[]string{"demo", "--records", "0"}, "--records"},
		{[]string{"no-such-command"}, "unknown command"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			r := kferry(t, runOpts{timeout: 20 * time.Second}, tc.args...)
			wantError(t, r, 2, tc.fragment)
		})
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSASLWithoutMechanism (issue 16.10): SASL credentials without
// --sasl-mechanism are a usage error, not a silent unauthenticated run against
// a listener that happens to take one (this cluster has no SASL).
func TestSASLWithoutMechanism(t *testing.T) {
	t.Parallel()
	c, brokers := newCluster(t, map[string]int32{"t": 1})
	produce(t, c, "t", 0, 3)
	bucket, dir := fileURL(t)
	r := kferry(t, runOpts{env: []string{"KFERRY_SASL_PASSWORD=pw-e2e"}}, "export", "--brokers", brokers, "--topics", "t", "--to", bucket, "--sasl-username", "kferry")
	wantError(t, r, 2, "--sasl-username and --sasl-password given without --sasl-mechanism", "plain|scram-sha-256|scram-sha-512")
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("export wrote %d entries before the usage error", len(entries))
	}
	r = kferry(t, runOpts{}, "config", "check", "--brokers", brokers, "--sasl-username", "kferry", "--sasl-password", "pw-e2e")
	wantError(t, r, 2, "--sasl-mechanism")
	if strings.Contains(r.stdout, "ok") || strings.Contains(r.stdout+r.stderr, "pw-e2e") {
		t.Errorf("config check: want no ok and no password\n%s", r)
	}
	r = kferry(t, runOpts{}, "migrate", "--source-brokers", brokers, "--target-brokers", brokers, "--target-sasl-username", "kferry", "--target-sasl-password", "pw-e2e", "--topics", "t", "--via", bucket, "--rename", "t=t2")
	wantError(t, r, 2, "--target-sasl-mechanism plain|scram-sha-256|scram-sha-512")
}
