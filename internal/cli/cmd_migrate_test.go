package cli

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
)

// fast are the intervals of a migration that should not wait in a test.
var fast = []string{"--rotate-interval", "100ms", "--poll-interval", "100ms", "--lag-interval", "100ms"}

// TestMigrate: a one-shot migration copies every record into the renamed
// topic on the target, translates the selected consumer group's offsets, and
// prints the summary.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	src := kafkatest.NewCluster(t)
	seed(t, src, "orders", 2, 10)
	commit(t, src, kafka.GroupOffset{Group: "billing", Topic: "orders", Partition: 0, Offset: 3},
		kafka.GroupOffset{Group: "billing", Topic: "orders", Partition: 1, Offset: 4},
		kafka.GroupOffset{Group: "other", Topic: "orders", Partition: 0, Offset: 1})
	dst := kafkatest.NewCluster(t)
	args := append([]string{"migrate", "--source-brokers", brokers(src), "--target-brokers", brokers(dst), "--topics", "orders",
		"--rename", "orders=moved", "--groups", "bill.*", "--via", t.TempDir()}, fast...)

	out, _ := mustRun(t, args...)
	want := summaryRow{target: "moved", records: 10, objects: 2, offsets: "0:0-4 1:0-4"}
	if s := parseSummary(t, out, "migrate"); s.total != 10 || s.rows["orders"] != want {
		t.Errorf("summary %+v, want orders %+v", s, want)
	}
	if n := total(records(t, dst, "moved")); n != 10 {
		t.Errorf("moved holds %d records, want 10", n)
	}
	kc, err := kafka.Dial(ctx, dst.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	for group, want := range map[string]map[int32]int64{"billing": {0: 3, 1: 4}, "other": {}} {
		got, err := kc.CommittedOffsets(ctx, group, []string{"moved"})
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got["moved"], want) {
			t.Errorf("group %s on the target: %v, want %v", group, got["moved"], want)
		}
	}
}

// commit commits consumer-group offsets on c.
func commit(t *testing.T, c *kafkatest.Cluster, offsets ...kafka.GroupOffset) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kc, err := kafka.Dial(ctx, c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	if err := kc.CommitOffsets(ctx, offsets); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateSASLSecrets: each side's SASL password, one by flag and one by
// environment, never shows.
func TestMigrateSASLSecrets(t *testing.T) {
	const srcPassword, dstPassword = "Source-Pa55-2f9", "Target-Pa55-8c4"
	src := kafkatest.NewSASLCluster(t, "reader", srcPassword)
	seed(t, src, "orders", 1, 5)
	dst := kafkatest.NewSASLCluster(t, "writer", dstPassword)
	t.Setenv("KFERRY_TARGET_SASL_PASSWORD", dstPassword)
	args := append([]string{"migrate", "--topics", "orders", "--via", t.TempDir(), "--log-level", "debug",
		"--source-brokers", brokers(src), "--source-sasl-mechanism", "scram-sha-256", "--source-sasl-username", "reader", "--source-sasl-password", srcPassword,
		"--target-brokers", brokers(dst), "--target-sasl-mechanism", "scram-sha-256", "--target-sasl-username", "writer"}, fast...)
	out, errOut := mustRun(t, args...)
	if n := total(records(t, dst, "orders")); n != 5 {
		t.Errorf("target holds %d records, want 5", n)
	}
	noSecret(t, []string{srcPassword, dstPassword}, out, errOut)
}

// TestMigrateSideProfiles: migrate takes each side's connection settings from
// a profile written for one-cluster commands.
func TestMigrateSideProfiles(t *testing.T) {
	cfg := writeFile(t, `
profiles:
  old:
    brokers: old:9092
    sasl-mechanism: plain
  new:
    brokers: new:9092
  bad:
    brokers: x:1
    groups: ".*"
`)
	base := []string{"migrate", "--config", cfg, "--via", t.TempDir()}
	tests := []struct {
		args []string
		msg  string
	}{
		// Both sides' brokers came from the profiles: the next check is the topics.
		{[]string{"--source-profile", "old", "--target-profile", "new"}, "name the topics to migrate"},
		{[]string{"--source-profile", "old"}, "--target-brokers is required"},
		{[]string{"--source-profile", "bad", "--target-profile", "new"}, `"groups" is not a connection setting`},
		{[]string{"--source-profile", "nope", "--target-profile", "new"}, `--source-profile "nope" is not in`},
	}
	for _, tt := range tests {
		_, errOut, code := run(t, append(base, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.msg) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tt.args, code, errOut, tt.msg)
		}
	}
}

// TestMigrateUsage: wrong flags are one-line usage errors naming the flag.
func TestMigrateUsage(t *testing.T) {
	via := t.TempDir()
	checkUsage(t, []string{"migrate"}, []usageCase{
		{"no source", []string{"--target-brokers", "127.0.0.1:1", "--topics", "t", "--via", via}, "--source-brokers is required (or KFERRY_SOURCE_BROKERS)"},
		{"no target", []string{"--source-brokers", "127.0.0.1:1", "--topics", "t", "--via", via}, "--target-brokers is required"},
	})
	checkUsage(t, []string{"migrate", "--source-brokers", "127.0.0.1:1", "--target-brokers", "127.0.0.1:2"}, []usageCase{
		{"no topics", []string{"--via", via}, "name the topics to migrate: --topics or --topic-regex"},
		{"no bucket", []string{"--topics", "t"}, "--via is required"},
	})
	checkUsage(t, []string{"migrate", "--source-brokers", "127.0.0.1:1", "--target-brokers", "127.0.0.1:2", "--topics", "t", "--via", via}, []usageCase{
		{"follow and cutover", []string{"--follow", "--cutover"}, "--follow and --cutover exclude each other"},
		{"rotate interval", []string{"--rotate-interval", "0s"}, "--rotate-interval must be positive"},
		{"lag interval", []string{"--lag-interval", "-1s"}, "--lag-interval must be positive"},
		{"rotate bytes", []string{"--rotate-bytes", "big"}, "--rotate-bytes"},
		{"rename", []string{"--rename", "t"}, "--rename"},
		{"groups", []string{"--groups", "("}, "--groups"},
		{"topics dir", []string{"--topics-dir", "a/../b"}, "--topics-dir"},
		{"replication factor", []string{"--replication-factor", "-2"}, "--replication-factor"},
		{"delete and lock", []string{"--delete-imported", "--object-lock-days", "1"}, "--delete-imported and --object-lock-days exclude each other"},
		{"object lock on a folder", []string{"--object-lock-days", "1"}, "--object-lock-days"},
		{"profile without config", []string{"--source-profile", "old"}, "--source-profile old needs --config FILE"},
		{"target timeout", []string{"--target-timeout", "0s"}, "--target-timeout"},
	})
}

// TestMigrateRidesOutLostCommits: a one-shot migrate whose target loses
// commits (reported committed, aborted: a Kafka fault kferry redoes) more
// often than the 5 tries a partition gets for a permanent failure still
// completes, every record once.
func TestMigrateRidesOutLostCommits(t *testing.T) {
	src := kafkatest.NewCluster(t)
	seed(t, src, "t", 1, 200)
	dst := kafkatest.NewCluster(t)
	dst.AbortCommits("g1-t-0", 8)
	mustRun(t, append([]string{"migrate", "--source-brokers", brokers(src), "--target-brokers", brokers(dst), "--topics", "t",
		"--group", "g1", "--via", t.TempDir(), "--target-timeout", "60s"}, fast...)...)
	got := records(t, dst, "t")
	if total(got) != 200 {
		t.Fatalf("target holds %d records, want 200", total(got))
	}
	for i, r := range got[0] {
		if want := fmt.Sprintf(`{"n":%d}`, i); string(r.Value) != want {
			t.Fatalf("record %d is %s, want %s", i, r.Value, want)
		}
	}
}
