package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
)

// backedUp seeds topic orders (2 partitions, 10 records) on a new cluster,
// backs it up into a new folder and returns both.
func backedUp(t *testing.T) (*kafkatest.Cluster, string) {
	t.Helper()
	c := kafkatest.NewCluster(t)
	seed(t, c, "orders", 2, 10)
	dir := t.TempDir()
	mustRun(t, "backup", "--brokers", brokers(c), "--topics", "orders", "--to", dir)
	return c, dir
}

// TestRestore: restore writes every backed-up record, with key, value, headers
// and timestamp, into the same partition of the renamed topic, prints the
// summary, and a rerun writes nothing (exactly once).
func TestRestore(t *testing.T) {
	src, dir := backedUp(t)
	dst := kafkatest.NewCluster(t)
	args := []string{"restore", "--from", "file://" + dir, "--brokers", brokers(dst), "--rename", "orders=orders-restored"}

	out, _ := mustRun(t, args...)
	want := summaryRow{target: "orders-restored", records: 10, objects: 2, offsets: "0:0-4 1:0-4"}
	if s := parseSummary(t, out, "restore"); s.total != 10 || s.rows["orders"] != want {
		t.Errorf("summary %+v, want orders %+v", s, want)
	}
	got, wantRecs := records(t, dst, "orders-restored"), records(t, src, "orders")
	for p := range int32(2) {
		if diff := cmp.Diff(restored(wantRecs[p]), restored(got[p])); diff != "" {
			t.Errorf("partition %d (-source +target):\n%s", p, diff)
		}
	}

	out, _ = mustRun(t, args...)
	if s := parseSummary(t, out, "restore"); s.total != 0 {
		t.Errorf("rerun restored %d records, want 0", s.total)
	}
	if n := total(records(t, dst, "orders-restored")); n != 10 {
		t.Errorf("target holds %d records after the rerun, want 10", n)
	}
}

// restored is what restore keeps of a record: all but topic and offset.
func restored(recs []record.Record) []record.Record {
	out := make([]record.Record, len(recs))
	for i, r := range recs {
		r.Topic, r.Offset = "", 0
		r.Timestamp = r.Timestamp.Round(time.Millisecond).UTC()
		out[i] = r
	}
	return out
}

// TestRestoreUntil: --until (RFC 3339 or Unix ms) stops each partition before
// the first record stamped after it.
func TestRestoreUntil(t *testing.T) {
	src := kafkatest.NewCluster(t)
	if err := src.CreateTopic(context.Background(), "events", 1); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)
	var recs []record.Record
	for i := range 4 {
		recs = append(recs, record.Record{Topic: "events", Timestamp: t0.Add(time.Duration(i) * time.Minute), Value: fmt.Appendf(nil, "%d", i)})
	}
	if err := src.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mustRun(t, "backup", "--brokers", brokers(src), "--to", dir)
	dst := kafkatest.NewCluster(t)
	for _, tc := range []struct{ until, topic string }{
		{"2027-01-15T08:01:00Z", "rfc3339"},
		{fmt.Sprint(t0.Add(time.Minute).UnixMilli()), "unix-ms"},
	} {
		out, _ := mustRun(t, "restore", "--from", dir, "--brokers", brokers(dst), "--until", tc.until, "--rename", "events="+tc.topic)
		if s := parseSummary(t, out, "restore"); s.total != 2 {
			t.Errorf("--until %s: restored %d records, want 2 (08:00 and 08:01)", tc.until, s.total)
		}
		if n := total(records(t, dst, tc.topic)); n != 2 {
			t.Errorf("--until %s: %s holds %d records, want 2", tc.until, tc.topic, n)
		}
	}
}

// TestRestoreUnknownBackup: --backup naming no backup of the bucket is a usage
// error that says how to list them.
func TestRestoreUnknownBackup(t *testing.T) {
	c, dir := backedUp(t)
	out, errOut, code := run(t, "restore", "--from", dir, "--brokers", brokers(c), "--backup", "20200101T000000.000Z")
	if code != ExitUsage || out != "" || !errorLine(errOut) || !strings.Contains(errOut, "`kferry ls "+dir+"` lists them") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2 and one line saying kferry ls lists them", code, out, errOut)
	}
}

// TestRestoreSASLSecrets: the target's SASL password, by flag or environment,
// never shows.
func TestRestoreSASLSecrets(t *testing.T) {
	const password = "Restore-Pa55-1b7"
	_, dir := backedUp(t)
	dst := kafkatest.NewSASLCluster(t, "kferry", password)
	base := []string{"restore", "--from", dir, "--brokers", brokers(dst), "--sasl-mechanism", "scram-sha-256", "--sasl-username", "kferry", "--log-level", "debug"}
	out, errOut := mustRun(t, append(base, "--sasl-password", password, "--rename", "orders=by-flag")...)
	noSecret(t, []string{password}, out, errOut)
	t.Setenv("KFERRY_SASL_PASSWORD", password)
	out, errOut = mustRun(t, append(base, "--rename", "orders=by-env")...)
	noSecret(t, []string{password}, out, errOut)
	for _, topic := range []string{"by-flag", "by-env"} {
		if n := total(records(t, dst, topic)); n != 10 {
			t.Errorf("%s holds %d records, want 10", topic, n)
		}
	}
}

// TestRestoreFollowCreatesMissingFolder: a standby started before the first
// backup waits on a folder that does not exist yet and restores the backup that
// then lands there; a one-shot restore still refuses the missing folder.
func TestRestoreFollowCreatesMissingFolder(t *testing.T) {
	src := sourceCluster(t, 3)
	dst := kafkatest.NewCluster(t)
	dir := filepath.Join(t.TempDir(), "standby", "new")

	if _, errOut, code := run(t, "restore", "--from", "file://"+dir, "--brokers", brokers(dst)); code != 1 || !strings.Contains(errOut, "bucket not found") {
		t.Errorf("one-shot restore from a missing folder: exit %d, %q; want 1 and bucket not found", code, errOut)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan string, 1)
	go func() {
		_, errOut, code := runContext(t, ctx, "restore", "--follow", "--poll-interval", "100ms", "--from", "file://"+dir, "--brokers", brokers(dst))
		done <- fmt.Sprintf("exit %d\n%s", code, errOut)
	}()
	waitFor(t, "restore --follow to create the folder", func() bool {
		select {
		case res := <-done:
			t.Fatalf("restore --follow ended early: %s", res)
		default:
		}
		_, err := os.Stat(dir)
		return err == nil
	})
	if out, errOut, code := run(t, "backup", "--brokers", brokers(src), "--topics", "t", "--to", "file://"+dir); code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, out, errOut)
	}
	waitFor(t, "the standby to restore 3 records", func() bool {
		// Short tries: a topic the standby has not created yet is retried for long.
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		got, err := dst.ReadAll(ctx, "t")
		return err == nil && len(got[0]) == 3
	})
	cancel()
	if res := <-done; !strings.HasPrefix(res, "exit 0\n") {
		t.Errorf("restore --follow: %s", res)
	}
}

// TestRestoreUsage: wrong flags are one-line usage errors naming the flag.
func TestRestoreUsage(t *testing.T) {
	dir := t.TempDir()
	checkUsage(t, []string{"restore"}, []usageCase{
		{"no brokers", []string{"--from", dir}, "--brokers is required"},
		{"no bucket", []string{"--brokers", "127.0.0.1:1"}, "--from is required"},
	})
	checkUsage(t, []string{"restore", "--brokers", "127.0.0.1:1", "--from", dir}, []usageCase{
		{"until", []string{"--until", "yesterday"}, `--until "yesterday": use RFC 3339`},
		{"since", []string{"--since", "2027-13-01"}, "--since"},
		{"since after until", []string{"--since", "2027-01-02T00:00:00Z", "--until", "2027-01-01T00:00:00Z"}, "--since 2027-01-02T00:00:00Z is after --until"},
		{"follow and until", []string{"--follow", "--until", "2027-01-01T00:00:00Z"}, "--follow restores every new backup"},
		{"follow and backup", []string{"--follow", "--backup", "20270101T000000.000Z"}, "--follow restores every new backup"},
		{"group without follow", []string{"--group", "g"}, "--group needs --follow"},
		{"poll interval", []string{"--follow", "--poll-interval", "0s"}, "--poll-interval"},
		{"replication factor", []string{"--replication-factor", "40000"}, "--replication-factor"},
		{"rename", []string{"--rename", "=x"}, "--rename"},
		{"groups", []string{"--groups", "*"}, "--groups"},
		{"parallelism", []string{"--parallelism", "-1"}, "--parallelism"},
		{"sasl without mechanism", []string{"--sasl-username", "u"}, "--sasl-username given without --sasl-mechanism"},
		{"argument", []string{dir}, "takes no arguments"},
	})
}
