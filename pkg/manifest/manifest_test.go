package manifest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/pkg/record"
)

func TestMarshalRoundTrip(t *testing.T) {
	m := &Manifest{FormatVersion: FormatVersion, ID: NewID(time.Date(2026, 11, 26, 0, 35, 0, 123e6, time.UTC)),
		Topics: []Topic{{Name: "orders", Partitions: 2, Configs: map[string]string{"cleanup.policy": "compact"},
			Partition: []Partition{{Partition: 1, StartOffset: 5, EndOffset: 9, Records: 3, Gaps: []Gap{{From: 5, To: 6, Reason: "retention"}},
				Objects: []Object{{Key: "topics/orders/partition=1/orders+1+0000000006.kfr", FirstOffset: 6, LastOffset: 8, Records: 3}}}}}},
		Groups: []Group{{Group: "g", Offsets: []GroupOffset{{Topic: "orders", Partition: 1, Offset: 7}}}},
	}
	if m.ID != "20261126T003500.123Z" {
		t.Fatalf("NewID = %s", m.ID)
	}
	b, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if p := got.Topic("orders").PartitionByID(1); p == nil || p.Objects[0].LastOffset != 8 {
		t.Errorf("lookup failed: %+v", p)
	}
	if got.Topic("nope") != nil {
		t.Error("unknown topic found")
	}
}

func TestUnmarshalRefusesNewMajor(t *testing.T) {
	for _, v := range []string{"2.0", "", "0.9"} {
		_, err := Unmarshal([]byte(`{"format_version":"` + v + `"}`))
		if !errors.Is(err, ErrVersion) {
			t.Errorf("version %q: err = %v", v, err)
		}
	}
	if _, err := Unmarshal([]byte(`{"format_version":"1.7","id":"x","future_field":1}`)); err != nil {
		t.Errorf("newer minor refused: %v", err)
	}
}

func TestKeysAndNewest(t *testing.T) {
	id, ok := IDFromKey(Key("20261126T003500.123Z"))
	if !ok || id != "20261126T003500.123Z" {
		t.Fatalf("IDFromKey(Key) = %q %v", id, ok)
	}
	for _, k := range []string{"_kferry/backups/a/b.json", "_kferry/topics/x.json", "_kferry/backups/.json"} {
		if _, ok := IDFromKey(k); ok {
			t.Errorf("IDFromKey(%q) accepted", k)
		}
	}
	newest, err := Newest([]string{"20261126T003500.123Z", "20270101T000000.000Z", "20261231T235959.999Z"})
	if err != nil || newest != "20270101T000000.000Z" {
		t.Errorf("Newest = %q, %v", newest, err)
	}
	if _, err := Newest(nil); !errors.Is(err, ErrNoBackup) {
		t.Errorf("Newest(nil) err = %v", err)
	}
}

func TestRollSeparatesFields(t *testing.T) {
	ts := time.UnixMilli(1000)
	base := record.Record{Key: []byte("ab"), Value: []byte("c"), Timestamp: ts}
	variants := []record.Record{
		{Key: []byte("a"), Value: []byte("bc"), Timestamp: ts},
		{Key: nil, Value: []byte("c"), Timestamp: ts},
		{Key: []byte("ab"), Value: []byte("c"), Timestamp: ts.Add(time.Millisecond)},
		{Key: []byte("ab"), Value: []byte("c"), Timestamp: ts, Headers: []record.Header{{Key: "h"}}},
		{Key: []byte("ab"), Value: []byte("c"), Timestamp: ts, Headers: []record.Header{{Key: "h", Value: []byte{}}}},
	}
	want := Roll(nil, &base)
	if !bytes.Equal(want, Roll(nil, &record.Record{Key: []byte("ab"), Value: []byte("c"), Timestamp: ts, Offset: 99})) {
		t.Error("offset changed the digest; restored topics would never compare equal")
	}
	seen := map[string]bool{string(want): true}
	for i, v := range variants {
		d := string(Roll(nil, &v))
		if seen[d] {
			t.Errorf("variant %d collides", i)
		}
		seen[d] = true
	}
	if bytes.Equal(Roll(want, &base), want) {
		t.Error("rolling did not change the digest")
	}
}

// TestRollGolden pins the digest of a few records: manifests in buckets carry
// these digests, so the definition may never change (verify compares them).
func TestRollGolden(t *testing.T) {
	recs := []record.Record{
		{Key: []byte("k"), Value: []byte(`{"a":1}`), Timestamp: time.UnixMilli(1_700_000_000_123),
			Headers: []record.Header{{Key: "h", Value: []byte{0xff}}, {Key: "n"}}},
		{Key: nil, Value: nil},
		{Key: []byte{}, Value: []byte("v"), Timestamp: time.UnixMilli(-5)},
	}
	var d []byte
	for i := range recs {
		d = Roll(d, &recs[i])
	}
	const want = "f318d77975a5fa5204a52541f2c2ae17db6bb280f293b41704163f061425a1df"
	if got := HexDigest(d); got != want {
		t.Errorf("digest = %s, want %s", got, want)
	}
}
