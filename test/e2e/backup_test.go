package e2e

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/pkg/manifest"
)

// TestBackupCLI: the command-line contract of backup, restore, verify and ls:
// exit status and one-line errors naming what is wrong, and nothing written to
// the target when a restore is refused.
// (Longer than 80 lines on purpose: one scenario whose steps build on the
// state the previous ones left; read top-down, it is the story it checks.)
func TestBackupCLI(t *testing.T) {
	t.Parallel()
	src := newSource(t, 3, 300)
	url, dir := fileURL(t)
	r := kferry(t, runOpts{}, "backup", "--brokers", src.brokers, "--to", url, "--flush-size", "100")
	mustSucceed(t, r)
	id := backupID(t, r)
	objects, _, err := bucketFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(objects)
	if len(objects) != 27 {
		t.Fatalf("backup wrote %d objects, want 27 (9 partitions × 300 records / 100)", len(objects))
	}

	t.Run("ls lists the backup", func(t *testing.T) {
		t.Parallel()
		r := kferry(t, runOpts{}, "ls", url)
		mustSucceed(t, r)
		if !strings.Contains(r.stdout, id) {
			t.Errorf("ls does not list backup %s:\n%s", id, r)
		}
	})
	t.Run("unknown backup id", func(t *testing.T) {
		t.Parallel()
		_, brokers := newCluster(t, nil)
		r := kferry(t, runOpts{}, "restore", "--from", url, "--brokers", brokers, "--backup", "20000101T000000.000Z")
		wantError(t, r, 2, "no backup 20000101T000000.000Z in "+url, "kferry ls") // a usage error (issue 16.11)
		wantNoTopics(t, brokers)
	})
	t.Run("too few target partitions", func(t *testing.T) {
		t.Parallel()
		target, brokers := newCluster(t, map[string]int32{"payments": 2})
		r := kferry(t, runOpts{}, "restore", "--from", url, "--brokers", brokers)
		wantError(t, r, 1, "too few partitions", "payments has 2 partitions", "has 3")
		if got := readTopics(t, target.Config(), []string{"payments"}); len(got["payments"]) != 0 {
			t.Errorf("records were written into payments before the error")
		}
		wantNoTopics(t, brokers, "orders", "audit-log")
	})
	t.Run("target holds records", func(t *testing.T) {
		t.Parallel()
		target, brokers := newCluster(t, map[string]int32{"orders": 3})
		produce(t, target, "orders", 1, 5)
		r := kferry(t, runOpts{}, "restore", "--from", url, "--brokers", brokers)
		wantError(t, r, 1, "not empty", "orders partition 1", "--force")
	})
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"--until not a time", []string{"--until", "notatime"}, []string{"--until", "notatime", "RFC 3339"}},
		{"--since not a time", []string{"--since", "2026-13-45"}, []string{"--since", "2026-13-45"}},
		{"--groups bad regex", []string{"--groups", "("}, []string{"--groups"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := kferry(t, runOpts{}, append([]string{"restore", "--from", url, "--brokers", "127.0.0.1:1"}, tc.args...)...)
			wantError(t, r, 2, tc.want...)
		})
	}
	t.Run("restore without --from", func(t *testing.T) {
		t.Parallel()
		wantError(t, kferry(t, runOpts{}, "restore", "--brokers", "127.0.0.1:1"), 2, "--from")
	})

	// A damaged copy of the bucket per case: verify and restore both fail
	// naming the object.
	victim := objects[len(objects)/2]
	obj := manifestObject(t, dir, id, victim)
	if obj.first == 0 {
		t.Fatalf("the damaged object %s should not be its partition's first", victim)
	}
	for _, tc := range []struct {
		name, kind string
		damage     func(t *testing.T, path string)
	}{
		{"altered object", "altered", func(t *testing.T, path string) {
			b := readFile(t, path)
			b[len(b)/2] ^= 0x40
			writeFile(t, path, string(b))
		}},
		{"truncated object", "truncated", func(t *testing.T, path string) {
			b := readFile(t, path)
			writeFile(t, path, string(b[:len(b)*2/3]))
		}},
		{"deleted object", "missing", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
		{"extra object", "extra", func(t *testing.T, path string) {
			writeFile(t, strings.Replace(path, ".kfr", "1.kfr", 1), string(readFile(t, path)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			damaged := copyDir(t, dir)
			tc.damage(t, filepath.Join(damaged, filepath.FromSlash(victim)))
			if tc.kind == "extra" {
				// An object in no manifest is a warning; --strict fails on it.
				// Restore reads the manifest's objects only.
				extra := strings.Replace(victim, ".kfr", "1.kfr", 1)
				r := kferry(t, runOpts{}, "verify", "file://"+damaged)
				mustSucceed(t, r)
				if !strings.Contains(r.stdout, "warning: object "+extra+" ") {
					t.Errorf("verify does not warn about the extra object:\n%s", r)
				}
				wantError(t, kferry(t, runOpts{}, "verify", "--strict", "file://"+damaged), 1, "verification failed", "--strict", extra)
				return
			}
			r := kferry(t, runOpts{}, "verify", "file://"+damaged)
			wantError(t, r, 1, "verification failed", tc.kind, strings.TrimSuffix(victim, ".kfr"))
			if !strings.Contains(r.stdout, "problem: "+tc.kind) {
				t.Errorf("verify does not list the %s object:\n%s", tc.kind, r)
			}
			target, brokers := newCluster(t, nil)
			r = kferry(t, runOpts{}, "restore", "--from", "file://"+damaged, "--brokers", brokers)
			wantError(t, r, 1, victim)
			// The damaged object's transaction was aborted, with the objects
			// before it that shared it (restore batches whole objects of
			// several partitions per transaction): its partition holds a
			// prefix of the records before the damaged object, each once, in
			// order. Apache Kafka writes the last commit's markers just after
			// restore exits: wait for them.
			waitStable(t, target.Config(), obj.topic)
			got := readTopics(t, target.Config(), []string{obj.topic})[obj.topic][obj.partition]
			want := src.records[obj.topic][obj.partition][:obj.first]
			if len(got) > len(want) {
				t.Errorf("%s/%d after the failed restore: %d records, more than the %d before the damaged object", obj.topic, obj.partition, len(got), len(want))
			} else {
				want = want[:len(got)]
			}
			if problem := comparePartition(want, got); problem != "" {
				t.Errorf("%s/%d after the failed restore: %s", obj.topic, obj.partition, problem)
			}
		})
	}
}

// TestDemoBackup runs the embedded backup demo, which verifies the restored copy
// record by record and the group's position itself.
func TestDemoBackup(t *testing.T) {
	t.Parallel()
	r := kferry(t, runOpts{timeout: 3 * time.Minute}, "demo", "--backup", "--records", "20000")
	mustSucceed(t, r)
	for _, want := range []string{"restored 20000 records", "compared 20000 records", "verified"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo --backup does not say %q:\n%s", want, r)
		}
	}
}

// TestBackupS3: backup to and restore from a real S3 server (versitygw): the
// manifest and objects land in the bucket, verify accepts them, and the restored
// topics equal the source with the groups on the same records.
func TestBackupS3(t *testing.T) {
	needS3(t)
	t.Parallel()
	src := newSource(t, 3, 500)
	bucket := createBucket(t)
	r := kferry(t, runOpts{env: rootEnv()}, "backup", "--brokers", src.brokers, "--to", s3URL(bucket), "--flush-size", "200")
	mustSucceed(t, r)
	id := backupID(t, r)
	keys := listObjects(t, bucket)
	var native int
	for _, k := range keys {
		if strings.HasSuffix(k, ".kfr") {
			native++
		}
	}
	if !slices.Contains(keys, manifest.Key(id)) || native != 27 {
		t.Errorf("bucket holds %d native objects (want 27) and manifest %s: %v", native, manifest.Key(id), slices.Contains(keys, manifest.Key(id)))
	}
	target, brokers := newCluster(t, nil)
	mustSucceed(t, kferry(t, runOpts{env: rootEnv()}, "restore", "--from", s3URL(bucket), "--brokers", brokers))
	waitStable(t, target.Config(), backupTopics...) // Apache Kafka writes the last commit's markers just after restore exits
	got := readTopics(t, target.Config(), backupTopics)
	for _, problem := range compareRecords(src.records, got) {
		t.Error(problem)
	}
	checkGroups(t, src, target.Config(), got)
	v := kferry(t, runOpts{env: rootEnv()}, "verify", s3URL(bucket), "--brokers", brokers)
	mustSucceed(t, v)
	if !strings.Contains(v.stdout, "4500 records compared with the cluster") {
		t.Errorf("verify --brokers did not compare every record:\n%s", v)
	}
}

// wantNoTopics asserts that the cluster holds none of the topics (any of the
// backup's when none are named): a refused restore creates nothing.
func wantNoTopics(t *testing.T, brokers string, topics ...string) {
	t.Helper()
	if len(topics) == 0 {
		topics = backupTopics
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kc, err := kafka.Dial(ctx, kafka.Config{Brokers: strings.Split(brokers, ",")})
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	all, err := kc.Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range topics {
		if _, ok := all[topic]; ok {
			t.Errorf("the refused restore created topic %s", topic)
		}
	}
}

// objectRef places one native object of a backup.
type objectRef struct {
	topic     string
	partition int32
	first     int64
}

// manifestObject finds key in manifest id of the file:// bucket at dir.
func manifestObject(t *testing.T, dir, id, key string) objectRef {
	t.Helper()
	m, err := manifest.Unmarshal(readFile(t, filepath.Join(dir, filepath.FromSlash(manifest.Key(id)))))
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range m.Topics {
		for _, p := range topic.Partition {
			for _, o := range p.Objects {
				if o.Key == key {
					return objectRef{topic: topic.Name, partition: p.Partition, first: o.FirstOffset}
				}
			}
		}
	}
	t.Fatalf("manifest %s does not name %s", id, key)
	return objectRef{}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// copyDir copies a file:// bucket's folder into a new temporary folder.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		writeFile(t, filepath.Join(to, rel), string(readFile(t, path)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}
