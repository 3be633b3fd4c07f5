package backup_test

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
)

func encRecords(topic string, n int) []record.Record {
	ts := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var out []record.Record
	for i := range n {
		out = append(out, record.Record{Topic: topic, Partition: int32(i % 2), Timestamp: ts.Add(time.Duration(i) * time.Millisecond),
			Key: []byte("secret-key-" + strconv.Itoa(i)), Value: []byte(`{"card":"4111-` + strconv.Itoa(i) + `"}`),
			Headers: []record.Header{{Key: "h", Value: []byte{0xff, byte(i)}}}})
	}
	return out
}

func TestEncryptedBackupRoundTrip(t *testing.T) {
	e := testkit.New(t, "file")
	e.CreateTopic("cards", 2)
	e.Produce(encRecords("cards", 300)...)
	key, err := seal.Generate()
	if err != nil {
		t.Fatal(err)
	}
	m := e.MustBackup(backup.BackupOptions{Key: key, FlushSize: 50})
	if m.Encryption == nil || m.Encryption.KeyID != key.ID() {
		t.Fatalf("manifest encryption = %+v, want key id %s", m.Encryption, key.ID())
	}
	// Nothing in the bucket shows the data: every object is an age file, and the
	// manifest only names the backup and the key id in the clear.
	for k, body := range e.RawObjects() {
		if strings.Contains(body, "secret-key-") || strings.Contains(body, "4111-") || strings.Contains(body, "cards+") && strings.HasSuffix(k, ".json") {
			t.Errorf("%s shows plaintext", k)
		}
		if strings.HasSuffix(k, ".kfr") && !strings.HasPrefix(body, seal.Magic) {
			t.Errorf("%s is not sealed", k)
		}
		if strings.HasPrefix(k, manifest.Prefix) && !strings.Contains(body, key.ID()) {
			t.Errorf("manifest %s does not name the key id", k)
		}
	}

	// Without the key, or with another one, restore fails before it writes
	// anything to Kafka: the target does not even get the topic.
	other, _ := seal.Generate()
	for name, k := range map[string]*seal.Key{"no key": nil, "wrong key": other} {
		tg := e.NewTarget()
		_, err := e.Restore(tg, backup.RestoreOptions{Key: k})
		if !errors.Is(err, manifest.ErrSealed) || !strings.Contains(err.Error(), key.ID()) {
			t.Errorf("%s: err = %v, want ErrSealed naming %s", name, err, key.ID())
		}
		if topics, _ := tg.KC.Topics(e.Ctx); len(topics) != 0 {
			if _, ok := topics["cards"]; ok {
				t.Errorf("%s: restore created the topic before failing", name)
			}
		}
	}

	tg := e.NewTarget()
	e.MustRestore(tg, backup.RestoreOptions{Key: key})
	got := testkit.ReadTopic(t, e.Ctx, tg.KC.Config(), "cards")
	want := testkit.ReadTopic(t, e.Ctx, e.KC.Config(), "cards")
	for p := range want {
		if len(got[p]) != len(want[p]) {
			t.Fatalf("partition %d: %d records restored, want %d", p, len(got[p]), len(want[p]))
		}
		for i := range want[p] {
			if !bytes.Equal(got[p][i].Key, want[p][i].Key) || !bytes.Equal(got[p][i].Value, want[p][i].Value) || !got[p][i].Timestamp.Equal(want[p][i].Timestamp) {
				t.Fatalf("partition %d record %d differs", p, i)
			}
		}
	}
	if rep, err := backup.Verify(e.Ctx, e.B, backup.VerifyOptions{Key: key, Kafka: tg.KC}); err != nil || rep.Compared != 300 {
		t.Errorf("verify with key: %v (compared %d)", err, rep.Compared)
	}
	if _, err := backup.Verify(e.Ctx, e.B, backup.VerifyOptions{}); !errors.Is(err, manifest.ErrSealed) {
		t.Errorf("verify without key: err = %v", err)
	}
	// An incremental backup must use the same key.
	e.Produce(encRecords("cards", 10)...)
	if _, _, err := e.Backup(backup.BackupOptions{Key: other}); !errors.Is(err, manifest.ErrSealed) {
		t.Errorf("incremental backup with another key: err = %v", err)
	}
}

func TestEncryptedExportImport(t *testing.T) {
	e := testkit.New(t, "mem")
	e.CreateTopic("cards", 2)
	e.Produce(encRecords("cards", 100)...)
	key, _ := seal.Generate()
	if _, err := e.Export(pipeline.ExportOptions{Format: "json", StoreKeys: true, StoreHeaders: true, Key: key, FlushSize: 30}); err == nil {
		t.Fatal("headers with binary values exported as JSON") // the sample headers are binary
	}
	if _, err := e.Export(pipeline.ExportOptions{Format: "json", StoreKeys: true, Key: key, FlushSize: 30, Selector: plan.Selector{Names: []string{"cards"}}}); err != nil {
		t.Fatal(err)
	}
	for k, body := range e.RawObjects() {
		if strings.HasPrefix(k, "topics/") && !strings.HasPrefix(body, seal.Magic) {
			t.Errorf("%s is not sealed", k)
		}
	}
	if _, err := e.ImportAll(pipeline.ImportOptions{Renames: testkit.MustRenames(t, "cards=cards-copy"), CreateTopics: true}); !errors.Is(err, seal.ErrNoKey) {
		t.Fatalf("import without key: err = %v", err)
	}
	if topics, err := e.KC.Topics(e.Ctx); err != nil || topics["cards-copy"].Name != "" {
		t.Errorf("import without key created its target topic before failing (%v)", err)
	}
	if _, err := e.ImportAll(pipeline.ImportOptions{Renames: testkit.MustRenames(t, "cards=cards-copy2"), Key: key, CreateTopics: true}); err != nil {
		t.Fatal(err)
	}
	got := testkit.ReadTopic(t, e.Ctx, e.KC.Config(), "cards-copy2")
	if n := len(got[0]) + len(got[1]); n != 100 {
		t.Errorf("imported %d records, want 100", n)
	}
}
