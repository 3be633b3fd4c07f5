package manifest

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
)

// Golden fixtures are manifests as kferry of one format version wrote them,
// committed under testdata/v<version>/ (docs/FORMAT.md, "Compatibility: golden
// fixtures"). Every later kferry must read them to exactly the manifests below.
// A new format version adds an entry to goldenVersions and a directory beside the
// old ones; the old ones are never regenerated.

var update = flag.Bool("update", false, "write the golden fixtures of the current manifest format version (testdata/v"+FormatVersion+") that are missing; a committed fixture is never overwritten")

// goldenKeyFile is the age identity that sealed the encrypted fixtures: a
// test-only key, committed on purpose beside them.
const goldenKeyFile = "TEST-ONLY-age-key.txt"

// goldenKeyID is goldenKeyFile's public recipient, as encrypted manifests name it.
const goldenKeyID = "age18h3nlk8xxfzaa78am2h9qwd46yzr5ptn7unxjyrjn93kjxfj9uaqgmnj5j"

// goldenManifest is one fixture file and the manifest it holds.
type goldenManifest struct {
	file      string
	encrypted bool
	m         *Manifest
}

// goldenVersion is one format version's fixtures: backup chains in the order
// they were written (each manifest's parent is the one before it).
type goldenVersion struct {
	version string
	chains  func() [][]goldenManifest
}

var goldenVersions = []goldenVersion{
	{version: "1.0", chains: goldenChainsV1},
	{version: "1.1", chains: goldenChainsV11},
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// goldenChainsV1 is a plain chain (a full backup and two incremental ones) and an
// encrypted one (a full backup and one incremental). Between them they use every
// field of version 1: topic ids and configs, an empty partition, gaps (during a
// run and between runs), a topic recreated into lineage 1, consumer-group offsets
// with and without metadata, warnings, and the encryption envelope.
// (Longer than 80 lines on purpose: the fixture is one literal description
// of the data, record by record.)
func goldenChainsV1() [][]goldenManifest {
	const full, incr1, incr2 = "20261125T003500.000Z", "20261126T003500.000Z", "20261127T003500.000Z"
	o0a := Object{Key: "topics/orders/partition=0/orders+0+0000000010.kfr", BackupID: full, FirstOffset: 10, LastOffset: 2009, Records: 2000,
		MinTimestamp: 1795478400000, MaxTimestamp: 1795500000000, Size: 81234,
		SHA256: "b88ca87b3d3ee338f0826fa9a5221d68322e89668591188f03c2bd032e386cd1", Digest: "58cc5d9060480569b3fe034a726a9d7d83aaa0ea6e8b59a6fd2ae4a718ad3c2e"}
	o0b := Object{Key: "topics/orders/partition=0/orders+0+0000002010.kfr", BackupID: full, FirstOffset: 2010, LastOffset: 3999, Records: 1990,
		MinTimestamp: 1795500000001, MaxTimestamp: 1795566600000, Size: 80555,
		SHA256: "1c748c513ec51c3cba7b60453fdfeb8df2232ebbb5faff520a3f7e6d3819e69b", Digest: "407f95a6612f64bafb36534b6aea4d9a95a8b9068ac2942e105062b635ce6441"}
	p0 := Object{Key: "topics/payments/partition=0/payments+0+0000000000.kfr", BackupID: full, FirstOffset: 0, LastOffset: 24, Records: 25,
		MinTimestamp: 1795480000000, MaxTimestamp: 1795560000000, Size: 2048,
		SHA256: "424cddeb3e8f8b4550debd63a1c3e875b2e40509daa1bb5478253b5b2e301806", Digest: "cf8cda61fe5085f6e9ab1c62d4a24fc128ab3bf29ffcdb8bba07dee36f785ee1"}
	o0c := Object{Key: "topics/orders/partition=0/orders+0+0000004000.kfr", BackupID: incr1, FirstOffset: 4000, LastOffset: 4999, Records: 1000,
		MinTimestamp: 1795566600001, MaxTimestamp: 1795653000000, Size: 40960,
		SHA256: "add55b8b74c6d92a8ff70be7578e29cd713449cb64ace1122be42b69789fe717", Digest: "428fe3b50f3bbb6200288a34ed4518ca1299c420a5afc6fafbead10c28f14439"}
	o1 := Object{Key: "topics/orders/partition=1/orders+1+0000000000.kfr", BackupID: incr1, FirstOffset: 0, LastOffset: 299, Records: 300,
		MinTimestamp: 1795570000000, MaxTimestamp: 1795650000000, Size: 12288,
		SHA256: "a77f66caee84f2258f96b8cb96f648efee9c6270867b31518ec9065b30c32d81", Digest: "fb9e1b036dd0976aaf90c520d1782ced7dba6eb788127cd7293b4520c7b1365b"}
	// payments was deleted and recreated: lineage 1 has objects under topics/lineage=1/.
	p0l1 := Object{Key: "topics/lineage=1/payments/partition=0/payments+0+0000000000.kfr", BackupID: incr1, FirstOffset: 0, LastOffset: 6, Records: 7,
		MinTimestamp: 1795640000000, MaxTimestamp: 1795652000000, Size: 700,
		SHA256: "ce5a0f5b58e45575348f91265f26d492f14f69f46a0b0cfe53e518a0392b5d8d", Digest: "4a3a444e35864d983352ecfe12209713cf6338e11f1f4707bb26324af2914395"}
	o0d := Object{Key: "topics/orders/partition=0/orders+0+0000005100.kfr", BackupID: incr2, FirstOffset: 5100, LastOffset: 5999, Records: 900,
		MinTimestamp: 1795653000001, MaxTimestamp: 1795739400000, Size: 36864,
		SHA256: "6e579aea5592159645948516200d1d4ee7d521a0ad6de5965a89080b085ce48b", Digest: "c7238ba4dc6063179f7b13382e6f6dd8028e03279663258abac3a768a408a574"}

	ordersConfigs := map[string]string{"cleanup.policy": "compact", "retention.ms": "604800000"}
	duringRun := Gap{From: 0, To: 10, Reason: "retention removed these records while the backup ran"}
	betweenRuns := Gap{From: 5000, To: 5100, Reason: "retention removed these records before this backup"}
	const ordersID, paymentsID, paymentsID2 = "6f1e0c2a9b3d4e5f8a7b6c5d4e3f2a1b", "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "f9e8d7c6b5a4938271605f4e3d2c1b0a"

	plain := []goldenManifest{
		{file: "full.json", m: &Manifest{FormatVersion: "1.0", ID: full, KferryVersion: "0.9.0", ClusterID: "MkU3OEVBNTcwNTJENDM2Qk",
			Started: utc("2026-11-25T00:35:00Z"), Finished: utc("2026-11-25T00:35:02.5Z"),
			MinTimestamp: 1795478400000, MaxTimestamp: 1795566600000,
			Topics: []Topic{
				{Name: "orders", ID: ordersID, Partitions: 2, ReplicationFactor: 3, Configs: ordersConfigs, Partition: []Partition{
					{Partition: 0, StartOffset: 0, EndOffset: 4000, Records: 3990, Gaps: []Gap{duringRun}, Objects: []Object{o0a, o0b}, Digest: o0b.Digest},
					{Partition: 1, StartOffset: 0, EndOffset: 0},
				}},
				{Name: "payments", ID: paymentsID, Partitions: 1, ReplicationFactor: 1, Partition: []Partition{
					{Partition: 0, StartOffset: 0, EndOffset: 25, Records: 25, Objects: []Object{p0}, Digest: p0.Digest},
				}},
			},
			Groups: []Group{
				{Group: "billing", Offsets: []GroupOffset{{Topic: "orders", Partition: 0, Offset: 1200, Metadata: "consumer-7"}, {Topic: "orders", Partition: 1, Offset: 0}}},
				{Group: "audit", Offsets: []GroupOffset{{Topic: "payments", Partition: 0, Offset: 25}}},
			},
			Warnings: []string{"orders/0: offsets 0 to 9 were removed by retention while the backup ran; they are missing"},
		}},
		{file: "incremental-1.json", m: &Manifest{FormatVersion: "1.0", ID: incr1, Parent: full, KferryVersion: "0.9.0", ClusterID: "MkU3OEVBNTcwNTJENDM2Qk",
			Started: utc("2026-11-26T00:35:00Z"), Finished: utc("2026-11-26T00:35:01.25Z"),
			MinTimestamp: 1795478400000, MaxTimestamp: 1795653000000,
			Topics: []Topic{
				{Name: "orders", ID: ordersID, Partitions: 2, ReplicationFactor: 3, Configs: ordersConfigs, Partition: []Partition{
					{Partition: 0, StartOffset: 0, EndOffset: 5000, Records: 4990, Gaps: []Gap{duringRun}, Objects: []Object{o0a, o0b, o0c}, Digest: o0c.Digest},
					{Partition: 1, StartOffset: 0, EndOffset: 300, Records: 300, Objects: []Object{o1}, Digest: o1.Digest},
				}},
				{Name: "payments", ID: paymentsID2, Partitions: 1, ReplicationFactor: 1, Partition: []Partition{
					{Partition: 0, Lineage: 1, StartOffset: 0, EndOffset: 7, Records: 7, Objects: []Object{p0l1}, Digest: p0l1.Digest},
				}},
			},
			Groups: []Group{
				{Group: "billing", Offsets: []GroupOffset{{Topic: "orders", Partition: 0, Offset: 4500, Metadata: "consumer-7"}, {Topic: "orders", Partition: 1, Offset: 300}}},
				{Group: "audit", Offsets: []GroupOffset{{Topic: "payments", Partition: 0, Offset: 7}}},
			},
			Warnings: []string{"payments was deleted and recreated since backup 20261125T003500.000Z (topic id changed): partition 0 starts a new lineage"},
		}},
		{file: "incremental-2.json", m: &Manifest{FormatVersion: "1.0", ID: incr2, Parent: incr1, KferryVersion: "0.9.1", ClusterID: "MkU3OEVBNTcwNTJENDM2Qk",
			Started: utc("2026-11-27T00:35:00Z"), Finished: utc("2026-11-27T00:35:00.75Z"),
			MinTimestamp: 1795478400000, MaxTimestamp: 1795739400000,
			Topics: []Topic{
				{Name: "orders", ID: ordersID, Partitions: 2, ReplicationFactor: 3, Configs: ordersConfigs, Partition: []Partition{
					{Partition: 0, StartOffset: 0, EndOffset: 6000, Records: 5890, Gaps: []Gap{duringRun, betweenRuns}, Objects: []Object{o0a, o0b, o0c, o0d}, Digest: o0d.Digest},
					{Partition: 1, StartOffset: 0, EndOffset: 300, Records: 300, Objects: []Object{o1}, Digest: o1.Digest},
				}},
				{Name: "payments", ID: paymentsID2, Partitions: 1, ReplicationFactor: 1, Partition: []Partition{
					{Partition: 0, Lineage: 1, StartOffset: 0, EndOffset: 7, Records: 7, Objects: []Object{p0l1}, Digest: p0l1.Digest},
				}},
			},
			Groups: []Group{
				{Group: "billing", Offsets: []GroupOffset{{Topic: "orders", Partition: 0, Offset: 6000, Metadata: "consumer-7"}, {Topic: "orders", Partition: 1, Offset: 300}}},
				{Group: "audit", Offsets: []GroupOffset{{Topic: "payments", Partition: 0, Offset: 7}}},
			},
			Warnings: []string{"orders/0: offsets 5000 to 5099 were removed by retention since the last backup; they are missing"},
		}},
	}

	const efull, eincr = "20261201T000000.000Z", "20261202T000000.000Z"
	enc := &Encryption{Scheme: "age-x25519", KeyID: goldenKeyID}
	ca := Object{Key: "topics/cards/partition=0/cards+0+0000000000.kfr", BackupID: efull, FirstOffset: 0, LastOffset: 99, Records: 100,
		MinTimestamp: 1795996800000, MaxTimestamp: 1796083200000, Size: 5120,
		SHA256: "91a86a3ffc63f2d21e2412b1bc09c5644ef0f66d3ceef47bef619eaa11ff7a74", Digest: "652569c0874bf61f2273c74adf5e731275deb5174f7d05824c01377d73f46dee"}
	cb := Object{Key: "topics/cards/partition=0/cards+0+0000000100.kfr", BackupID: eincr, FirstOffset: 100, LastOffset: 149, Records: 50,
		MinTimestamp: 1796083200001, MaxTimestamp: 1796169540000, Size: 2560,
		SHA256: "6f3114522b12a5476b030957bde680ce342fbdb41c3911b56d92d5c664aa9248", Digest: "b811c9cbf7d8015643b3fcff7b53f50e4b08109a959320da6a53866c0b0f97ac"}
	const cardsID = "1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f"
	encrypted := []goldenManifest{
		{file: "encrypted-full.json", encrypted: true, m: &Manifest{FormatVersion: "1.0", ID: efull, KferryVersion: "0.9.1", ClusterID: "MkU3OEVBNTcwNTJENDM2Qk",
			Started: utc("2026-12-01T00:00:00Z"), Finished: utc("2026-12-01T00:00:01Z"),
			MinTimestamp: 1795996800000, MaxTimestamp: 1796083200000,
			Topics: []Topic{{Name: "cards", ID: cardsID, Partitions: 1, ReplicationFactor: 3, Configs: map[string]string{"min.insync.replicas": "2"}, Partition: []Partition{
				{Partition: 0, StartOffset: 0, EndOffset: 100, Records: 100, Objects: []Object{ca}, Digest: ca.Digest},
			}}},
			Groups:     []Group{{Group: "payments-service", Offsets: []GroupOffset{{Topic: "cards", Partition: 0, Offset: 90}}}},
			Encryption: enc,
		}},
		{file: "encrypted-incremental.json", encrypted: true, m: &Manifest{FormatVersion: "1.0", ID: eincr, Parent: efull, KferryVersion: "0.9.1", ClusterID: "MkU3OEVBNTcwNTJENDM2Qk",
			Started: utc("2026-12-02T00:00:00Z"), Finished: utc("2026-12-02T00:00:00.5Z"),
			MinTimestamp: 1795996800000, MaxTimestamp: 1796169540000,
			Topics: []Topic{{Name: "cards", ID: cardsID, Partitions: 1, ReplicationFactor: 3, Configs: map[string]string{"min.insync.replicas": "2"}, Partition: []Partition{
				{Partition: 0, StartOffset: 0, EndOffset: 150, Records: 150, Objects: []Object{ca, cb}, Digest: cb.Digest},
			}}},
			Groups:     []Group{{Group: "payments-service", Offsets: []GroupOffset{{Topic: "cards", Partition: 0, Offset: 150}}}},
			Encryption: enc,
		}},
	}
	return [][]goldenManifest{plain, encrypted}
}

// TestGoldenManifests reads every committed manifest, checks each field against
// the expectation and each incremental manifest's parent against the chain.
func TestGoldenManifests(t *testing.T) {
	if *update {
		writeGolden(t)
	}
	for _, gv := range goldenVersions {
		dir := filepath.Join("testdata", "v"+gv.version)
		key, err := seal.Load(filepath.Join(dir, goldenKeyFile))
		if err != nil {
			t.Fatalf("v%s: %v", gv.version, err)
		}
		if key.ID() != goldenKeyID {
			t.Fatalf("v%s: %s has id %s, want %s", gv.version, goldenKeyFile, key.ID(), goldenKeyID)
		}
		for _, chain := range gv.chains() {
			var ids []string
			for i, g := range chain {
				t.Run("v"+gv.version+"/"+g.file, func(t *testing.T) {
					path := filepath.Join(dir, g.file)
					got := readGolden(t, path, key, g.encrypted)
					if diff := cmp.Diff(g.m, got); diff != "" {
						t.Errorf("%s reads differently (-want +got):\n%s", path, diff)
					}
					switch {
					case i == 0 && got.Parent != "":
						t.Errorf("%s: a full backup with parent %s", path, got.Parent)
					case i > 0 && got.Parent != chain[i-1].m.ID:
						t.Errorf("%s: parent %q, want %s", path, got.Parent, chain[i-1].m.ID)
					}
				})
				ids = append(ids, g.m.ID)
			}
			if newest, err := Newest(ids); err != nil || newest != chain[len(chain)-1].m.ID {
				t.Errorf("v%s: Newest(%v) = %s, %v; want the chain's last", gv.version, ids, newest, err)
			}
		}
	}
}

// TestGoldenManifestEncoderUnchanged marshals the current version's plain
// manifests again and compares them byte for byte with the fixtures (JSON of
// the same struct is deterministic), so a renamed field or a changed encoding
// fails here even while Unmarshal follows it.
func TestGoldenManifestEncoderUnchanged(t *testing.T) {
	gv := currentGolden(t)
	for _, chain := range gv.chains() {
		for _, g := range chain {
			if g.encrypted {
				continue // age output differs each time; TestGoldenManifests reads it
			}
			path := filepath.Join("testdata", "v"+gv.version, g.file)
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Marshal(g.m)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Marshal writes other bytes than %s (-fixture +now):\n%s\n%s", path, diff, frozenHint)
			}
		}
	}
}

// TestGoldenRollingDigest pins Roll, whose values v1 manifests store: a changed
// digest would make verify --brokers report every restored topic as different.
func TestGoldenRollingDigest(t *testing.T) {
	ts := time.Date(2026, 11, 25, 12, 0, 0, 123e6, time.UTC)
	recs := []record.Record{
		{Key: []byte("order-1"), Value: []byte(`{"id":1}`), Timestamp: ts,
			Headers: []record.Header{{Key: "dup", Value: []byte("a")}, {Key: "dup", Value: []byte("b")}, {Key: "null", Value: nil}, {Key: "empty", Value: []byte{}}}},
		{Key: nil, Value: []byte("null key"), Timestamp: ts.Add(time.Millisecond)},
		{Key: []byte("k"), Value: []byte{}, Timestamp: ts.Add(2 * time.Millisecond)},
		{Key: []byte("k"), Value: nil, Timestamp: ts.Add(3 * time.Millisecond)},
		{Key: []byte{0xff, 0x00}, Value: []byte{0xc3, 0x28}},
	}
	// Computed from docs/FORMAT.md's definition by another implementation
	// (Python hashlib), not by Roll.
	want := []string{
		"cc07d0f6cea8d11bd9ed0187404704338208d2634d06f3d136e3ef511c063988",
		"3c2f96e5203ca273617760a6f7ee90960386b8306db6d2fc8a6359baef656d26",
		"0659660c2c8b1ccb4c022f1fe80351d91c4e33dfbabd45376e33a8f5c2f1f13d",
		"719abd3f168344067d93232ed05fa2aabcb6329e509ac334af50ce7f933652fb",
		"da2599779ea54e9578c1e0f7a2162d252cb9031e264faa58023ed95ccbc98e82",
	}
	var d []byte
	var got []string
	for i := range recs {
		d = Roll(d, &recs[i])
		got = append(got, HexDigest(d))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rolling digests changed (-v1 +now):\n%s\n%s", diff, frozenHint)
	}
	// A Roller, as backup uses it: one per partition, each result the next
	// prev (the same array it writes into).
	var r Roller
	d, got = nil, nil
	for i := range recs {
		d = r.Roll(d, &recs[i])
		got = append(got, HexDigest(d))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Roller's digests differ (-v1 +Roller):\n%s", diff)
	}
}

const frozenHint = "A change of the manifest format is a new format version: bump FormatVersion, add a goldenVersions entry and its testdata directory (go test -run Golden -update), keep the old fixtures."

func currentGolden(t *testing.T) goldenVersion {
	t.Helper()
	for _, gv := range goldenVersions {
		if gv.version == FormatVersion {
			return gv
		}
	}
	t.Fatalf("no goldenVersions entry for the current manifest format version %s", FormatVersion)
	return goldenVersion{}
}

// readGolden reads a fixture as kferry reads a manifest from a bucket. An
// encrypted one must show only its id and key id without the key.
func readGolden(t *testing.T, path string, key *seal.Key, encrypted bool) *Manifest {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !encrypted {
		m, err := Unmarshal(body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return m
	}
	id, enc, err := Peek(body)
	if err != nil || id == "" || enc == nil || enc.KeyID != goldenKeyID {
		t.Errorf("%s: Peek = %q, %+v, %v; want its id and key %s", path, id, enc, err, goldenKeyID)
	}
	if _, err := UnmarshalSealed(body, nil); !errors.Is(err, ErrSealed) {
		t.Errorf("%s without a key: err = %v, want ErrSealed", path, err)
	}
	if bytes.Contains(body, []byte(`"topics"`)) {
		t.Errorf("%s shows its topics in the clear", path)
	}
	m, err := UnmarshalSealed(body, key)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// writeGolden writes the fixtures of the current version that are missing. An
// existing fixture is kept when it reads as the expectation (an encrypted one
// differs byte for byte from run to run) and is an error otherwise: released
// fixtures are frozen.
func writeGolden(t *testing.T) {
	t.Helper()
	gv := currentGolden(t)
	dir := filepath.Join("testdata", "v"+gv.version)
	key, err := seal.Load(filepath.Join(dir, goldenKeyFile))
	if err != nil {
		t.Fatalf("%v (the key is committed with the fixtures and never generated here)", err)
	}
	for _, chain := range gv.chains() {
		for _, g := range chain {
			path := filepath.Join(dir, g.file)
			if _, err := os.Stat(path); err == nil {
				if !cmp.Equal(g.m, readGolden(t, path, key, g.encrypted)) {
					t.Fatalf("-update: %s exists and reads as another manifest than the test expects; it is not overwritten.\n%s", path, frozenHint)
				}
				continue
			}
			var body []byte
			if g.encrypted {
				body, err = MarshalSealed(g.m, key)
			} else {
				body, err = Marshal(g.m)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, body, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("-update: wrote %s", path)
		}
	}
}
