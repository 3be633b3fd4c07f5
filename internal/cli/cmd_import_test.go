package cli

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
)

// exported seeds topic orders (2 partitions, 10 records) on c and exports it
// with keys and headers into a new folder, which it returns.
func exported(t *testing.T, c *kafkatest.Cluster) string {
	t.Helper()
	seed(t, c, "orders", 2, 10)
	dir := t.TempDir()
	mustRun(t, "export", "--brokers", brokers(c), "--topics", "orders", "--to", dir, "--store-keys", "--store-headers", "--flush-size", "3")
	return dir
}

// TestImport: import writes every exported record, with its key and headers,
// into the same partition of the renamed topic, prints the summary, and a
// rerun writes nothing (its progress group says everything is in).
func TestImport(t *testing.T) {
	src := kafkatest.NewCluster(t)
	dir := exported(t, src)
	dst := kafkatest.NewCluster(t)
	args := []string{"import", "--from", "file://" + dir, "--brokers", brokers(dst), "--rename", "(.*)s=$1-copy"}

	out, errOut := mustRun(t, args...)
	s := parseSummary(t, out, "import")
	want := summaryRow{target: "order-copy", records: 10, objects: 4, offsets: "0:0-4 1:0-4"}
	if s.total != 10 || s.rows["orders"] != want {
		t.Errorf("summary %+v, want 10 records and orders %+v", s, want)
	}
	if !strings.Contains(errOut, "topic created") || !strings.Contains(errOut, "topic=order-copy partitions=2") {
		t.Errorf("log does not say order-copy was created with 2 partitions:\n%s", errOut)
	}
	got, wantRecs := records(t, dst, "order-copy"), records(t, src, "orders")
	for p := range int32(2) {
		if diff := cmp.Diff(payloads(wantRecs[p]), payloads(got[p])); diff != "" {
			t.Errorf("partition %d (-source +target):\n%s", p, diff)
		}
	}

	out, _ = mustRun(t, args...)
	if s := parseSummary(t, out, "import"); s.total != 0 {
		t.Errorf("rerun imported %d records, want 0", s.total)
	}
	if n := total(records(t, dst, "order-copy")); n != 10 {
		t.Errorf("target holds %d records after the rerun, want 10", n)
	}
}

// payload is what import carries of a record: key, value, headers.
type payload struct {
	Key, Value string
	Headers    []record.Header
}

func payloads(recs []record.Record) []payload {
	out := make([]payload, len(recs))
	for i, r := range recs {
		out[i] = payload{Key: string(r.Key), Value: string(r.Value), Headers: r.Headers}
	}
	return out
}

// TestImportRecipeEnvironment: the Connect recipe's variables name the target
// brokers, the bucket and the rename.
func TestImportRecipeEnvironment(t *testing.T) {
	src := kafkatest.NewCluster(t)
	dir := exported(t, src)
	dst := kafkatest.NewCluster(t)
	t.Setenv("SINK_KAFKA_BOOTSTRAP_SEVERS", brokers(dst))
	t.Setenv("SOURCE_TOPICS_REGEX", "orders")
	t.Setenv("SINK_TOPICS_REPLACEMENT", "orders-from-recipe")
	t.Setenv("KFERRY_FROM", dir)
	out, _ := mustRun(t, "import")
	if row := parseSummary(t, out, "import").rows["orders"]; row.target != "orders-from-recipe" || row.records != 10 {
		t.Errorf("orders: %+v, want 10 records into orders-from-recipe", row)
	}
	if n := total(records(t, dst, "orders-from-recipe")); n != 10 {
		t.Errorf("orders-from-recipe holds %d records, want 10", n)
	}
}

// TestImportRefusesBackup: a bucket of backups is a usage error that points to
// kferry restore, and nothing is written.
func TestImportRefusesBackup(t *testing.T) {
	c := sourceCluster(t, 3)
	dir := t.TempDir()
	mustRun(t, "backup", "--brokers", brokers(c), "--to", dir)
	out, errOut, code := run(t, "import", "--from", dir, "--brokers", brokers(c), "--rename", "t=t-copy")
	if code != ExitUsage || out != "" || !errorLine(errOut) || !strings.Contains(errOut, "restore it with kferry restore --from "+dir) {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2 and one line pointing to kferry restore", code, out, errOut)
	}
	if topicExists(t, c, "t-copy") {
		t.Error("import created the target topic")
	}
}

// TestImportSASLSecrets: the target's SASL password, by flag or environment,
// never shows.
func TestImportSASLSecrets(t *testing.T) {
	const password = "Import-Pa55-4e8"
	dir := exported(t, kafkatest.NewCluster(t))
	dst := kafkatest.NewSASLCluster(t, "kferry", password)
	base := []string{"import", "--from", dir, "--brokers", brokers(dst), "--sasl-mechanism", "scram-sha-256", "--sasl-username", "kferry", "--log-level", "debug"}
	out, errOut := mustRun(t, append(base, "--sasl-password", password, "--rename", "orders=by-flag")...)
	noSecret(t, []string{password}, out, errOut)
	t.Setenv("KFERRY_SASL_PASSWORD", password)
	out2, errOut2 := mustRun(t, append(base, "--rename", "orders=by-env")...)
	noSecret(t, []string{password}, out2, errOut2)
	for _, topic := range []string{"by-flag", "by-env"} {
		if n := total(records(t, dst, topic)); n != 10 {
			t.Errorf("%s holds %d records, want 10", topic, n)
		}
	}
}

// TestImportUsage: wrong flags are one-line usage errors naming the flag.
func TestImportUsage(t *testing.T) {
	dir := t.TempDir()
	checkUsage(t, []string{"import"}, []usageCase{
		{"no brokers", []string{"--from", dir}, "--brokers is required"},
		{"no bucket", []string{"--brokers", "127.0.0.1:1"}, "--from is required"},
	})
	checkUsage(t, []string{"import", "--brokers", "127.0.0.1:1", "--from", dir}, []usageCase{
		{"rename", []string{"--rename", "orders"}, "--rename"},
		{"rename group", []string{"--rename", "(.*)=$2"}, "--rename"},
		{"files", []string{"--files", "orders"}, "--files"},
		{"replication factor", []string{"--replication-factor", "0"}, "--replication-factor"},
		{"shard", []string{"--shard", "1"}, "--shard"},
		{"metrics without follow", []string{"--metrics-addr", "127.0.0.1:0"}, "--metrics-addr needs --follow"},
		{"poll interval", []string{"--follow", "--poll-interval", "0s"}, "--poll-interval"},
		{"hole wait", []string{"--hole-wait", "-1s"}, "--hole-wait"},
		{"topics dir", []string{"--topics-dir", "/"}, "--topics-dir"},
		{"parallelism", []string{"--parallelism", "-2"}, "--parallelism"},
		{"create topics", []string{"--create-topics=maybe"}, `"--create-topics"`},
		{"topic regex", []string{"--topic-regex", "("}, "--topic-regex"},
		{"argument", []string{dir}, "takes no arguments"},
	})
}
