package backup_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/record"
)

// verifySource fills "audit" (one partition, 10 records with a committed
// transaction in the middle, so source offsets have a gap) and "other", and backs
// them up in objects of 3 records.
func verifySource(t *testing.T, e *testkit.Env) *manifest.Manifest {
	t.Helper()
	ts := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	e.CreateTopic("audit", 1)
	recs := testkit.Records("audit", 0, 10)
	for i := range recs {
		recs[i].Timestamp = ts.Add(time.Duration(i) * time.Second)
	}
	e.Produce(recs[:4]...)
	if err := e.Cluster.ProduceTxn(e.Ctx, "verify-txn", recs[4:6], true); err != nil {
		t.Fatal(err)
	}
	e.Produce(recs[6:]...)
	e.CreateTopic("other", 2)
	e.Produce(append(testkit.Records("other", 0, 4), testkit.Records("other", 1, 2)...)...)
	return e.MustBackup(backup.BackupOptions{FlushSize: 3})
}

// TestVerifyObjects: an intact backup verifies; a truncated, an altered (same
// size, one byte flipped) and a deleted object are each reported by name and
// kind, and restore fails naming a damaged object without writing any of its
// records. An extra object is a warning (a problem with Strict) that restore
// does not mind.
// (Longer than 80 lines on purpose: one scenario whose steps build on the
// state the previous ones left; read top-down, it is the story it checks.)
func TestVerifyObjects(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "file")
	m := verifySource(t, e)
	rep, err := backup.Verify(e.Ctx, e.B, backup.VerifyOptions{})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("intact backup: %v %q", err, rep.Problems)
	}
	if rep.Objects != 7 || rep.Records != 16 {
		t.Errorf("verified %d objects with %d records, want 7 and 16", rep.Objects, rep.Records)
	}

	audit := testkit.PartitionOf(t, m, "audit", 0).Objects // 4 objects: records 3, 3, 3, 1
	if len(audit) != 4 {
		t.Fatalf("audit/0 has %d objects, want 4", len(audit))
	}
	damaged := audit[1].Key
	tests := []struct {
		name    string
		damage  func(t *testing.T, e *testkit.Env)
		problem string // the reported problem starts with it
		restore bool   // restore fails too
	}{
		{"truncated", func(t *testing.T, e *testkit.Env) {
			rewrite(e, t, damaged, func(b []byte) []byte { return b[:len(b)/2] })
		},
			"truncated object " + damaged, true},
		{"altered", func(t *testing.T, e *testkit.Env) {
			rewrite(e, t, damaged, func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b })
		}, "altered object " + damaged, true},
		{"altered last byte", func(t *testing.T, e *testkit.Env) {
			rewrite(e, t, damaged, func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b })
		}, "altered object " + damaged, true},
		{"deleted", func(t *testing.T, e *testkit.Env) {
			if err := e.B.Delete(e.Ctx, damaged); err != nil {
				t.Fatal(err)
			}
		}, "missing object " + damaged, true},
		{"extra", func(t *testing.T, e *testkit.Env) {
			body, err := e.B.ReadAll(e.Ctx, damaged)
			if err != nil {
				t.Fatal(err)
			}
			e.Put(map[string]string{"topics/audit/partition=0/audit+0+0000000099.kfr": string(body)})
		}, "object topics/audit/partition=0/audit+0+0000000099.kfr", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testkit.New(t, "mem")
			copyBucket(t, e, c)
			tt.damage(t, c)
			rep, err := backup.Verify(c.Ctx, c.B, backup.VerifyOptions{})
			if !tt.restore {
				// Not in the manifest: a warning, an error only with Strict.
				if err != nil || len(rep.Problems) != 0 || len(rep.Warnings) != 1 || !strings.HasPrefix(rep.Warnings[0], tt.problem) {
					t.Errorf("verify: %v, problems %q, warnings %q; want no error and one warning starting with %q", err, rep.Problems, rep.Warnings, tt.problem)
				}
				_, err = backup.Verify(c.Ctx, c.B, backup.VerifyOptions{Strict: true})
			} else if len(rep.Problems) != 1 || !strings.HasPrefix(rep.Problems[0], tt.problem) {
				t.Errorf("problems %q, want exactly one starting with %q", rep.Problems, tt.problem)
			}
			testkit.WantErrContains(t, err, backup.ErrVerify, tt.problem)

			tg := c.NewTarget()
			// A transaction per object: those before the damaged one commit.
			_, err = c.Restore(tg, backup.RestoreOptions{Selector: plan.Selector{Names: []string{"audit"}}, Parallelism: 1, TxnObjects: 1})
			got := testkit.Values(testkit.ReadTopic(t, c.Ctx, tg.Cluster.Config(), "audit")[0])
			if !tt.restore {
				if err != nil || len(got) != 10 {
					t.Errorf("restore with an extra object: %v, %d records; want all 10", err, len(got))
				}
				return
			}
			testkit.WantErrContains(t, err, nil, damaged)
			// The objects before the damaged one are restored, nothing of it.
			want := testkit.Values(testkit.Records("audit", 0, 3))
			if !slices.Equal(got, want) {
				t.Errorf("target holds %v after the failed restore, want the first object's %v", got, want)
			}
		})
	}
}

// TestVerifyAgainstKafka: with a Kafka client, verify compares the backup with
// the restored (renamed) topics record by record, and with the source itself
// (offsets too); an extra record or a changed one is a problem that names where
// the topics part.
func TestVerifyAgainstKafka(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	verifySource(t, e)
	tg := e.NewTarget()
	rn := renames(t, "(.*)=restored-$1")
	e.MustRestore(tg, backup.RestoreOptions{Renames: rn})

	rep, err := backup.Verify(e.Ctx, e.B, backup.VerifyOptions{Kafka: tg.KC, Renames: rn})
	if err != nil || rep.Compared != 16 {
		t.Fatalf("verify the restored topics: compared %d of 16 records: %v %q", rep.Compared, err, rep.Problems)
	}
	rep, err = backup.Verify(e.Ctx, e.B, backup.VerifyOptions{Kafka: e.KC})
	if err != nil || rep.Compared != 16 {
		t.Fatalf("verify the source topics: compared %d of 16 records: %v %q", rep.Compared, err, rep.Problems)
	}

	// A copy of audit with its record at backup offset 7 (the 7th record: the
	// transaction's marker took offset 6) changed.
	src := testkit.ReadTopic(t, e.Ctx, e.Cluster.Config(), "audit")[0]
	if src[6].Offset != 7 {
		t.Fatalf("audit offsets %v, want a marker at 6", testkit.OffsetsOf(src))
	}
	changed := slices.Clone(src)
	for i := range changed {
		changed[i].Topic = "changed-audit"
	}
	changed[6].Value = []byte(`{"n":"changed"}`)
	if err := tg.Cluster.CreateTopic(e.Ctx, "changed-audit", 1); err != nil {
		t.Fatal(err)
	}
	if err := tg.Cluster.Produce(e.Ctx, changed); err != nil {
		t.Fatal(err)
	}
	rep, err = backup.Verify(e.Ctx, e.B, backup.VerifyOptions{Kafka: tg.KC, Renames: renames(t, "audit=changed-audit"), Topics: []string{"audit"}})
	testkit.WantErrContains(t, err, backup.ErrVerify, "changed-audit/0: first difference at backup offset 7 (live offset 6): value differs")
	if len(rep.Problems) != 1 {
		t.Errorf("problems %q, want one", rep.Problems)
	}

	// A point-in-time restore lacks the records after the point: verify names the
	// first backup offset missing from it.
	ts := src[5].Timestamp
	e.MustRestore(tg, backup.RestoreOptions{Renames: renames(t, "audit=until-audit"), Selector: plan.Selector{Names: []string{"audit"}}, Until: ts})
	rep, err = backup.Verify(e.Ctx, e.B, backup.VerifyOptions{Kafka: tg.KC, Renames: renames(t, "audit=until-audit"), Topics: []string{"audit"}})
	testkit.WantErrContains(t, err, backup.ErrVerify, "until-audit/0: backup offset 7 and later are missing from the live partition")
	if rep.Compared != 6 {
		t.Errorf("compared %d records with the point-in-time copy, want 6", rep.Compared)
	}

	// One more record in the restored topic.
	if err := tg.Cluster.Produce(e.Ctx, []record.Record{{Topic: "restored-audit", Value: []byte("late")}}); err != nil {
		t.Fatal(err)
	}
	end := testkit.EndOffsets(t, e.Ctx, tg.KC, "restored-audit")[0]
	rep, err = backup.Verify(e.Ctx, e.B, backup.VerifyOptions{Kafka: tg.KC, Renames: rn})
	testkit.WantErrContains(t, err, backup.ErrVerify, fmt.Sprintf("restored-audit/0: offset %d is not in the backup", end-1))
	if len(rep.Problems) != 1 || rep.Compared != 16 {
		t.Errorf("problems %q after comparing %d records, want one after 16", rep.Problems, rep.Compared)
	}
}

// rewrite replaces the object at key with fn of its bytes.
func rewrite(e *testkit.Env, t *testing.T, key string, fn func([]byte) []byte) {
	t.Helper()
	body, err := e.B.ReadAll(e.Ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.B.WriteAll(e.Ctx, key, fn(body), nil); err != nil {
		t.Fatal(err)
	}
}

// copyBucket copies every object of from's bucket into to's.
func copyBucket(t *testing.T, from, to *testkit.Env) {
	t.Helper()
	for k, body := range from.Objects() {
		if err := to.B.WriteAll(to.Ctx, k, []byte(body), nil); err != nil {
			t.Fatal(err)
		}
	}
}
