package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/record"
)

// The command tests (cmd_<name>_test.go) run kferry in process through Main,
// as the binary does: flags (and KFERRY_* variables) into the command's options,
// its runX, and the exit status and error line Main makes of the result, with
// buffers for stdout and stderr. Clusters are kfake (kafkatest), buckets local
// folders. test/e2e runs the built binary.

// run executes kferry with args and returns stdout, stderr and the exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runContext(t, context.Background(), args...)
}

// runContext is run until ctx ends (a --follow command stops there, as on SIGTERM).
func runContext(t *testing.T, ctx context.Context, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(ctx, args, &out, &errb)
	return out.String(), errb.String(), code
}

// mustRun runs kferry and fails the test unless it exits 0; it returns stdout
// and stderr.
func mustRun(t *testing.T, args ...string) (string, string) {
	t.Helper()
	out, errOut, code := run(t, args...)
	if code != ExitOK {
		t.Fatalf("kferry %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out, errOut
}

// usageCase is a command line that must be refused as a usage error whose
// message names want (the flag at fault).
type usageCase struct {
	name string
	args []string
	want string
}

// checkUsage runs each case after base and checks that it is a usage error:
// exit 2, nothing on stdout and one line on stderr, the error, naming want.
func checkUsage(t *testing.T, base []string, cases []usageCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string(nil), base...), tc.args...)
			out, errOut, code := run(t, args...)
			if code != ExitUsage || out != "" || !errorLine(errOut) || !strings.Contains(errOut, tc.want) {
				t.Errorf("kferry %s:\nexit %d, stdout %q, stderr %q\nwant exit %d, no output, one line naming %q",
					strings.Join(args, " "), code, out, errOut, ExitUsage, tc.want)
			}
		})
	}
}

// errorLine reports whether stderr is exactly one line: Main's error line.
func errorLine(stderr string) bool {
	return strings.HasPrefix(stderr, "kferry: ") && strings.Count(stderr, "\n") == 1 && strings.HasSuffix(stderr, "\n")
}

// noSecret fails the test if any secret appears in any of texts.
func noSecret(t *testing.T, secrets []string, texts ...string) {
	t.Helper()
	for _, s := range secrets {
		for _, text := range texts {
			if strings.Contains(text, s) {
				t.Errorf("secret %q shown:\n%s", s, text)
			}
		}
	}
}

// summary is what printSummary wrote: the bucket, one row per topic, the total
// record count and the warnings.
type summary struct {
	bucket   string
	rows     map[string]summaryRow
	total    int64
	warnings []string
}

// summaryRow is one topic's line of a summary.
type summaryRow struct {
	target           string
	records, objects int64
	offsets          string // "partition:first-last ..."
}

// parseSummary reads the summary of command from out, failing the test when
// there is none.
func parseSummary(t *testing.T, out, command string) summary {
	t.Helper()
	head := command + " summary ("
	i := strings.Index(out, head)
	if i < 0 {
		t.Fatalf("no %s summary in:\n%s", command, out)
	}
	lines := strings.Split(out[i+len(head):], "\n")
	s := summary{bucket: strings.TrimSuffix(lines[0], ")"), rows: map[string]summaryRow{}, total: -1}
	for _, line := range lines[2:] { // [1] is the table head
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "total:":
			s.total = atoi(t, f[1])
			continue
		case f[0] == "warning:":
			s.warnings = append(s.warnings, strings.TrimPrefix(strings.TrimSpace(line), "warning: "))
			continue
		case s.total < 0 && len(f) >= 5:
			s.rows[f[0]] = summaryRow{target: f[1], records: atoi(t, f[2]), objects: atoi(t, f[4]), offsets: strings.Join(f[5:], " ")}
			continue
		}
		break
	}
	if s.total < 0 {
		t.Fatalf("%s summary without a total:\n%s", command, out)
	}
	return s
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("summary: %v", err)
	}
	return n
}

// seed creates topic with partitions and writes n records round-robin over
// them: key k<i>, JSON value {"n":<i>}, header h=<i>.
func seed(t *testing.T, c *kafkatest.Cluster, topic string, partitions int32, n int) {
	t.Helper()
	ctx := context.Background()
	if err := c.CreateTopic(ctx, topic, partitions); err != nil {
		t.Fatal(err)
	}
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{
			Topic: topic, Partition: int32(i) % partitions, Key: fmt.Appendf(nil, "k%d", i),
			Value: fmt.Appendf(nil, `{"n":%d}`, i), Headers: []record.Header{{Key: "h", Value: []byte(strconv.Itoa(i))}},
		}
	}
	if err := c.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
}

// sourceCluster is a cluster with topic t: one partition, n records.
func sourceCluster(t *testing.T, n int) *kafkatest.Cluster {
	t.Helper()
	c := kafkatest.NewCluster(t)
	seed(t, c, "t", 1, n)
	return c
}

func brokers(c *kafkatest.Cluster) string { return strings.Join(c.ListenAddrs(), ",") }

// records returns every committed record of topic on c, per partition.
func records(t *testing.T, c *kafkatest.Cluster, topic string) map[int32][]record.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := c.ReadAll(ctx, topic)
	if err != nil {
		t.Fatalf("read %s: %v", topic, err)
	}
	return got
}

// topicExists reports whether c has topic.
func topicExists(t *testing.T, c *kafkatest.Cluster, topic string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kc, err := kafka.Dial(ctx, c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	ok, err := kc.TopicExists(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// total is the number of records in a per-partition map.
func total(recs map[int32][]record.Record) int {
	n := 0
	for _, p := range recs {
		n += len(p)
	}
	return n
}

// objectFiles lists the files under dir/topics with the suffix, as paths
// relative to dir.
func objectFiles(t *testing.T, dir, suffix string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(dir, "topics"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, suffix) {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeFile writes body to a new file and returns its path.
func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kferry.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// manifests lists the ids of the backups in the local folder dir.
func manifests(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, filepath.FromSlash(manifest.Prefix)))
	if err != nil {
		return nil
	}
	var ids []string
	for _, e := range entries {
		if id, ok := manifest.IDFromKey(manifest.Prefix + e.Name()); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// waitFor polls cond until it holds, for what runs on its own (a --follow
// command), and fails the test after 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// errorText is the last line of stderr, Main's error line.
func errorText(stderr string) string {
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	return lines[len(lines)-1]
}
