package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/format/avrofmt"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/store"
)

// lostIDCluster is a cluster whose topic "lost" holds a record of a schema
// id srcReg knows, then one of id 777, which it does not.
func lostIDCluster(t *testing.T, srcReg string) *kafkatest.Cluster {
	t.Helper()
	c := kafkatest.NewCluster(t)
	if err := c.CreateTopic(context.Background(), "lost", 1); err != nil {
		t.Fatal(err)
	}
	id := register(t, srcReg, "lost-value", orderV1)
	good := avroValue(t, orderV1, id, map[string]any{"id": int64(1), "note": nil})
	if err := c.Produce(context.Background(), []record.Record{{Topic: "lost", Value: good}, {Topic: "lost", Value: avrofmt.AppendWire(nil, 777, good[5:])}}); err != nil {
		t.Fatal(err)
	}
	return c
}

// shiftedTarget is a target cluster whose registry already gave ids away (two
// versions of another subject), so that translated ids differ from the source's.
func shiftedTarget(t *testing.T) (*kafkatest.Cluster, string) {
	t.Helper()
	dst, reg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "").URL()
	register(t, reg, "other-value", `{"type":"record","name":"D","fields":[]}`)
	register(t, reg, "other-value", `{"type":"record","name":"D","fields":[{"name":"e","type":"long","default":0}]}`)
	return dst, reg
}

// wantLostIDError checks a run that met schema id 777: exit 1, one line
// naming the record and the id, and nothing of its object written.
func wantLostIDError(t *testing.T, dst *kafkatest.Cluster, errOut string, code int) {
	t.Helper()
	if code != ExitFailed || !errorLine(errLine(errOut)) {
		t.Fatalf("unknown id: exit %d, stderr %q", code, errOut)
	}
	for _, w := range []string{"lost/0", "offset 1", "schema id 777", "not found"} {
		if !strings.Contains(errLine(errOut), w) {
			t.Errorf("error %q does not say %q", errLine(errOut), w)
		}
	}
	if topicExists(t, dst, "lost") {
		if n := total(records(t, dst, "lost")); n != 0 {
			t.Errorf("%d records of the failed object written", n)
		}
	}
}

// TestRestoreTranslatesIDs: a backup of records in the wire format restores
// into a cluster with another registry with --source-schema-registry: every
// schema id is rewritten to the target's id of the same schema, registered
// under the renamed subject; an id the source registry does not know stops
// the restore with one line naming topic, partition, offset and the id.
func TestRestoreTranslatesIDs(t *testing.T) {
	src, srcReg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "").URL()
	seedAvro(t, src, srcReg)
	dir := t.TempDir()
	mustRun(t, "backup", "--brokers", brokers(src), "--topics", "orders", "--to", dir)
	dst, dstReg := shiftedTarget(t)
	mustRun(t, "restore", "--from", dir, "--brokers", brokers(dst), "--rename", "orders=orders-copy",
		"--schema-registry", dstReg, "--source-schema-registry", srcReg)
	verifyAvroCopy(t, src, dst, srcReg, dstReg)

	bad := lostIDCluster(t, srcReg)
	dir = t.TempDir()
	mustRun(t, "backup", "--brokers", brokers(bad), "--topics", "lost", "--to", dir)
	_, errOut, code := run(t, "restore", "--from", dir, "--brokers", brokers(dst), "--schema-registry", dstReg, "--source-schema-registry", srcReg)
	wantLostIDError(t, dst, errOut, code)

	_, errOut, code = run(t, "restore", "--from", dir, "--brokers", brokers(dst), "--source-schema-registry", srcReg)
	if code != ExitUsage || !strings.Contains(errOut, "needs --schema-registry") {
		t.Errorf("--source-schema-registry alone: exit %d, stderr %q", code, errOut)
	}
}

// TestMigrateTranslatesIDs: migrate with both clusters' registries rewrites
// every schema id to the target registry's (renamed subjects); an id the
// source registry does not know stops the migration naming the record and the
// id; one registry without the other is a usage error.
func TestMigrateTranslatesIDs(t *testing.T) {
	src, srcReg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "").URL()
	seedAvro(t, src, srcReg)
	dst, dstReg := shiftedTarget(t)
	mustRun(t, append([]string{"migrate", "--source-brokers", brokers(src), "--target-brokers", brokers(dst), "--topics", "orders",
		"--rename", "orders=orders-copy", "--via", t.TempDir(), "--source-schema-registry", srcReg, "--target-schema-registry", dstReg}, fast...)...)
	verifyAvroCopy(t, src, dst, srcReg, dstReg)

	bad := lostIDCluster(t, srcReg)
	_, errOut, code := run(t, append([]string{"migrate", "--source-brokers", brokers(bad), "--target-brokers", brokers(dst), "--topics", "lost",
		"--via", t.TempDir(), "--source-schema-registry", srcReg, "--target-schema-registry", dstReg}, fast...)...)
	wantLostIDError(t, dst, errOut, code)

	base := []string{"migrate", "--source-brokers", brokers(src), "--target-brokers", brokers(dst), "--topics", "orders", "--via", t.TempDir()}
	checkUsage(t, base, []usageCase{
		{"source registry alone", []string{"--source-schema-registry", srcReg}, "--source-schema-registry needs --target-schema-registry"},
		{"target registry alone", []string{"--target-schema-registry", dstReg}, "--target-schema-registry needs --source-schema-registry"},
	})
}

// TestRestoreStoredSchemas: a backup made with --schema-registry stores the
// schemas of its records' ids (and its predecessors'), and a restore given
// only the new cluster's registry registers them there and rewrites the ids:
// it needs nothing of the old registry. A backup without them, or --follow,
// asks for --source-schema-registry.
func TestRestoreStoredSchemas(t *testing.T) {
	src, srcReg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "").URL()
	seedAvro(t, src, srcReg)
	dir := t.TempDir()
	mustRun(t, "backup", "--brokers", brokers(src), "--topics", "orders", "--to", dir, "--schema-registry", srcReg)
	seed(t, src, "plain", 1, 3) // no wire format: nothing to store
	mustRun(t, "backup", "--brokers", brokers(src), "--topics", "orders,plain", "--to", dir, "--schema-registry", srcReg)
	ids := manifests(t, dir)
	if len(ids) != 2 {
		t.Fatalf("backups %v, want 2", ids)
	}
	b, err := store.Open(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	for _, id := range ids {
		stored, complete, err := backup.LoadSchemas(context.Background(), b, id, nil)
		if err != nil || len(stored) != 2 || !complete {
			t.Errorf("backup %s stored %d schemas, complete %v (%v), want orders' 2 (the second carries the first's)", id, len(stored), complete, err)
		}
	}
	if a, err := backup.AuditBucket(context.Background(), b, nil); err != nil || len(a.Unlisted) != 0 {
		t.Errorf("audit (verify, ls, prune) finds %v unlisted (%v): the stored schemas belong to their manifests", a.Unlisted, err)
	}

	dst, dstReg := shiftedTarget(t)
	mustRun(t, "restore", "--from", dir, "--brokers", brokers(dst), "--topics", "orders", "--rename", "orders=orders-copy", "--schema-registry", dstReg)
	verifyAvroCopy(t, src, dst, srcReg, dstReg)

	plain := t.TempDir()
	mustRun(t, "backup", "--brokers", brokers(src), "--topics", "orders", "--to", plain)
	_, errOut, code := run(t, "restore", "--from", plain, "--brokers", brokers(dst), "--rename", "orders=orders-2", "--schema-registry", dstReg)
	if code != ExitUsage || !errorLine(errOut) || !strings.Contains(errOut, "stored no schemas") || !strings.Contains(errOut, "--source-schema-registry") {
		t.Errorf("backup without schemas: exit %d, stderr %q", code, errOut)
	}
	if topicExists(t, dst, "orders-2") {
		t.Error("the refused restore created its target topic")
	}
	_, errOut, code = run(t, "restore", "--follow", "--from", dir, "--brokers", brokers(dst), "--schema-registry", dstReg)
	if code != ExitUsage || !strings.Contains(errOut, "--source-schema-registry") {
		t.Errorf("--follow with stored schemas: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = run(t, "restore", "--from", dir, "--backup", "20990101T000000.000Z", "--brokers", brokers(dst), "--schema-registry", dstReg)
	if code == ExitOK || !strings.Contains(errOut, "no backup 20990101T000000.000Z") {
		t.Errorf("unknown backup id: exit %d, stderr %q", code, errOut)
	}

	// A chain with a backup made without the registry: the next one's stored
	// schemas cover its own records only, and restore says so before writing.
	mustRun(t, "backup", "--brokers", brokers(src), "--topics", "orders", "--to", plain, "--schema-registry", srcReg)
	_, errOut, code = run(t, "restore", "--from", plain, "--brokers", brokers(dst), "--rename", "orders=orders-3", "--schema-registry", dstReg)
	if code != ExitUsage || !strings.Contains(errOut, "own records only") || topicExists(t, dst, "orders-3") {
		t.Errorf("broken chain: exit %d, stderr %q (orders-3 created: %v)", code, errOut, topicExists(t, dst, "orders-3"))
	}
}

// TestBackupSchemasRegistryDown: a backup whose registry does not answer
// fails without writing its manifest (the bucket's newest backup is still the
// one before), naming the registry.
func TestBackupSchemasRegistryDown(t *testing.T) {
	src, srcReg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "").URL()
	seedAvro(t, src, srcReg)
	dir := t.TempDir()
	_, errOut, code := run(t, "backup", "--brokers", brokers(src), "--topics", "orders", "--to", dir,
		"--schema-registry", "http://127.0.0.1:1", "--schema-registry-timeout", "500ms")
	if code != ExitFailed || !strings.Contains(errLine(errOut), "no manifest was written") || !strings.Contains(errLine(errOut), "127.0.0.1:1") {
		t.Errorf("registry down: exit %d, stderr %q", code, errOut)
	}
	if ids := manifests(t, dir); len(ids) != 0 {
		t.Errorf("manifests %v written by a backup whose schemas were not stored", ids)
	}
}
