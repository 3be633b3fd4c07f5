package manifest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/native"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
	"github.com/kferry/kferry/pkg/store"
)

// A backup in a bucket, written and read with the public pieces: records as a
// native object, listed in a manifest with its checksum and rolling digest.
// The reader does what restore and verify do: it finds the newest manifest,
// reads each object it lists, checks the object's SHA-256 and digest, and
// decodes its records.
func Example() {
	ctx := context.Background()
	b, err := store.Open(ctx, "mem://")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	if err := writeBackup(ctx, b, "20270115T080000.000Z", []record.Record{
		{Offset: 0, Timestamp: time.UnixMilli(1_800_000_000_000), Key: []byte("order-1"), Value: []byte(`{"id":1}`)},
		{Offset: 1, Timestamp: time.UnixMilli(1_800_000_001_000), Key: []byte("order-2"), Value: []byte(`{"id":2}`)},
		{Offset: 3, Timestamp: time.UnixMilli(1_800_000_002_000), Key: []byte("order-1"), Value: nil},
	}); err != nil {
		fmt.Println(err)
		return
	}
	if err := readBackup(ctx, b); err != nil {
		fmt.Println(err)
	}
	// Output:
	// backup 20270115T080000.000Z (format 1.1)
	// orders/0: offsets 0-3, 3 records in 1 objects
	//   topics/orders/partition=0/orders+0+0000000000.kfr: sha256 ok, digest ok
	//   0 order-1 {"id":1}
	//   1 order-2 {"id":2}
	//   3 order-1 <nil>
}

// writeBackup writes recs (of topic orders, partition 0) as one native object
// and then the manifest of backup id that lists it.
func writeBackup(ctx context.Context, b *blob.Bucket, id string, recs []record.Record) error {
	var obj bytes.Buffer
	enc, err := native.Format{}.NewEncoder(&obj, layout.ViewValues)
	if err != nil {
		return err
	}
	var digest []byte
	for i := range recs {
		recs[i].Topic, recs[i].TimestampType = "orders", record.TimestampCreateTime
		if err := enc.Encode(&recs[i]); err != nil {
			return err
		}
		digest = manifest.Roll(digest, &recs[i])
	}
	if c, ok := enc.(format.Closer); ok {
		if err := c.Close(); err != nil { // the last block
			return err
		}
	}
	key := layout.Naming{TopicsDir: layout.DefaultTopicsDir}.Key(layout.Object{Topic: "orders", StartOffset: recs[0].Offset, Ext: ".kfr"})
	if err := b.WriteAll(ctx, key, obj.Bytes(), nil); err != nil {
		return err
	}
	sum := sha256.Sum256(obj.Bytes())
	first, last := recs[0], recs[len(recs)-1]
	m := &manifest.Manifest{
		FormatVersion: manifest.FormatVersion, ID: id, Started: time.Now(), Finished: time.Now(),
		MinTimestamp: first.Timestamp.UnixMilli(), MaxTimestamp: last.Timestamp.UnixMilli(),
		Topics: []manifest.Topic{{Name: "orders", Partitions: 1, ReplicationFactor: 3, Partition: []manifest.Partition{{
			Partition: 0, StartOffset: first.Offset, EndOffset: last.Offset + 1, Records: int64(len(recs)),
			Digest: manifest.HexDigest(digest),
			Objects: []manifest.Object{{
				Key: key, BackupID: id, FirstOffset: first.Offset, LastOffset: last.Offset, Records: int64(len(recs)),
				MinTimestamp: first.Timestamp.UnixMilli(), MaxTimestamp: last.Timestamp.UnixMilli(),
				Size: int64(obj.Len()), SHA256: hex.EncodeToString(sum[:]), Digest: manifest.HexDigest(digest),
			}},
		}}}},
	}
	body, err := manifest.MarshalSealed(m, nil) // with a seal.Key, the manifest is encrypted
	if err != nil {
		return err
	}
	// The manifest goes last: until it is written, the objects belong to no backup.
	return b.WriteAll(ctx, manifest.Key(m.ID), body, nil)
}

// readBackup reads the newest backup of b and every record in it.
func readBackup(ctx context.Context, b *blob.Bucket) error {
	var ids []string
	it := store.List(b, &blob.ListOptions{Prefix: manifest.Prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		if id, ok := manifest.IDFromKey(obj.Key); ok {
			ids = append(ids, id)
		}
	}
	id, err := manifest.Newest(ids)
	if err != nil {
		return err
	}
	body, err := b.ReadAll(ctx, manifest.Key(id))
	if err != nil {
		return err
	}
	m, err := manifest.UnmarshalSealed(body, nil)
	if err != nil {
		return err
	}
	fmt.Printf("backup %s (format %s)\n", m.ID, m.FormatVersion)
	for _, t := range m.Topics {
		for _, p := range t.Partition {
			fmt.Printf("%s/%d: offsets %d-%d, %d records in %d objects\n", t.Name, p.Partition, p.StartOffset, p.EndOffset-1, p.Records, len(p.Objects))
			var digest []byte // the rolling digest starts empty at the partition's first object
			for _, o := range p.Objects {
				if digest, err = readObject(ctx, b, o, digest); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// readObject checks one object against the manifest and prints its records. It
// returns the rolling digest after the object's last record.
func readObject(ctx context.Context, b *blob.Bucket, o manifest.Object, digest []byte) ([]byte, error) {
	body, err := b.ReadAll(ctx, o.Key)
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != o.SHA256 {
		return nil, fmt.Errorf("%s: sha256 differs from the manifest's", o.Key)
	}
	dec, err := native.Format{}.NewDecoder(bytes.NewReader(body), layout.ViewValues)
	if err != nil {
		return nil, err
	}
	var lines []string
	for {
		var rec record.Record
		if err := dec.Next(&rec); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Key, err)
		}
		digest = manifest.Roll(digest, &rec)
		lines = append(lines, fmt.Sprintf("  %d %s %s", rec.Offset, rec.Key, orNil(rec.Value)))
	}
	if manifest.HexDigest(digest) != o.Digest {
		return nil, fmt.Errorf("%s: records differ from the manifest's digest", o.Key)
	}
	fmt.Printf("  %s: sha256 ok, digest ok\n", o.Key)
	for _, l := range lines {
		fmt.Println(l)
	}
	return digest, nil
}

func orNil(b []byte) string {
	if b == nil {
		return "<nil>"
	}
	return string(b)
}

// A manifest as kferry 0.10.1 wrote it (a golden fixture of format 1.1): the
// third run of an incremental backup lists the objects of every run, and keeps
// a topic that was deleted from the cluster, marked.
func ExampleUnmarshal() {
	body, err := os.ReadFile("testdata/v1.1/incremental-2.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := manifest.Unmarshal(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("backup %s, parent %s, format %s\n", m.ID, m.Parent, m.FormatVersion)
	for _, t := range m.Topics {
		if t.Deleted() {
			fmt.Printf("topic %s (deleted from the cluster, found by backup %s)\n", t.Name, t.DeletedIn)
		} else {
			fmt.Printf("topic %s\n", t.Name)
		}
		for _, p := range t.Partition {
			for _, o := range p.Objects {
				fmt.Printf("  %s: offsets %d-%d, written by %s\n", o.Key, o.FirstOffset, o.LastOffset, o.BackupID)
			}
		}
	}
	for _, g := range m.Groups {
		for _, off := range g.Offsets {
			fmt.Printf("group %s: %s/%d at %d\n", g.Group, off.Topic, off.Partition, off.Offset)
		}
	}
	// Output:
	// backup 20270107T010000.000Z, parent 20270106T010000.000Z, format 1.1
	// topic legacy (deleted from the cluster, found by backup 20270106T010000.000Z)
	//   topics/legacy/partition=0/legacy+0+0000000000.kfr: offsets 0-41, written by 20270105T010000.000Z
	// topic orders
	//   topics/orders/partition=0/orders+0+0000000000.kfr: offsets 0-499, written by 20270105T010000.000Z
	//   topics/orders/partition=0/orders+0+0000000500.kfr: offsets 500-799, written by 20270106T010000.000Z
	//   topics/orders/partition=0/orders+0+0000000800.kfr: offsets 800-899, written by 20270107T010000.000Z
	// group billing: orders/0 at 900
	// group billing: legacy/0 at 42
}

// An encrypted manifest shows its id and the key it needs without any key;
// the rest takes that key.
func ExampleUnmarshalSealed() {
	body, err := os.ReadFile("testdata/v1.1/encrypted-full.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	id, enc, err := manifest.Peek(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(id, enc.Scheme, enc.KeyID)

	_, err = manifest.UnmarshalSealed(body, nil)
	fmt.Println(errors.Is(err, manifest.ErrSealed))

	key, err := seal.Load("testdata/v1.1/TEST-ONLY-age-key.txt")
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := manifest.UnmarshalSealed(body, key)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.ID, len(m.Topics), "topics")
	// Output:
	// 20270110T000000.000Z age-x25519 age18h3nlk8xxfzaa78am2h9qwd46yzr5ptn7unxjyrjn93kjxfj9uaqgmnj5j
	// true
	// 20270110T000000.000Z 2 topics
}

// Manifest ids are their backups' start times in UTC, so they sort by time.
func ExampleNewest() {
	ids := []string{manifest.NewID(time.Date(2027, 1, 6, 1, 0, 0, 0, time.UTC)), "20270105T010000.000Z"}
	newest, err := manifest.Newest(ids)
	fmt.Println(newest, err)
	fmt.Println(manifest.Key(newest))
	_, err = manifest.Newest(nil)
	fmt.Println(errors.Is(err, manifest.ErrNoBackup))
	// Output:
	// 20270106T010000.000Z <nil>
	// _kferry/backups/20270106T010000.000Z.json
	// true
}
