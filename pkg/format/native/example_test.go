package native_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/native"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
	"github.com/kferry/kferry/pkg/store"
)

// Records written as one native object into a bucket and read back: the object
// keeps every record's offset (with gaps), timestamp and its type, key, value
// (null distinct from empty) and headers.
func Example() {
	ctx := context.Background()
	b, err := store.Open(ctx, "mem://")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()

	ts := time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)
	recs := []record.Record{
		{Topic: "orders", Partition: 3, Offset: 40, Timestamp: ts, TimestampType: record.TimestampCreateTime,
			Key: []byte("order-1"), Value: []byte(`{"id":1}`), Headers: []record.Header{{Key: "trace", Value: []byte("abc")}}},
		{Topic: "orders", Partition: 3, Offset: 41, Timestamp: ts.Add(time.Second), TimestampType: record.TimestampCreateTime,
			Key: []byte("order-2"), Value: []byte{}},
		// Offset 42 was compacted away; a tombstone follows.
		{Topic: "orders", Partition: 3, Offset: 43, Timestamp: ts.Add(2 * time.Second), TimestampType: record.TimestampLogAppendTime,
			Key: []byte("order-1"), Value: nil},
	}
	key := layout.Naming{TopicsDir: layout.DefaultTopicsDir}.Key(layout.Object{
		Topic: "orders", Partition: 3, StartOffset: recs[0].Offset, Ext: native.Format{}.Ext(),
	})
	if err := writeObject(ctx, b, key, recs); err != nil {
		fmt.Println(err)
		return
	}

	r, err := b.NewReader(ctx, key, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	dec, err := native.Format{}.NewDecoder(r, layout.ViewValues)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(key)
	for {
		var rec record.Record
		if err := dec.Next(&rec); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%d %s %s key=%s value=%s headers=%d\n", rec.Offset, rec.Timestamp.UTC().Format(time.RFC3339),
			rec.TimestampType, rec.Key, orNull(rec.Value), len(rec.Headers))
	}
	// Output:
	// topics/orders/partition=3/orders+3+0000000040.kfr
	// 40 2027-01-15T08:00:00Z CreateTime key=order-1 value={"id":1} headers=1
	// 41 2027-01-15T08:00:01Z CreateTime key=order-2 value="" headers=0
	// 43 2027-01-15T08:00:02Z LogAppendTime key=order-1 value=null headers=0
}

// writeObject encodes recs as one native object at key. The encoder's Close
// writes the last block, and the writer's Close commits the object; a write
// abandoned by cancelling its context leaves no object at all.
func writeObject(ctx context.Context, b *blob.Bucket, key string, recs []record.Record) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.NewWriter(ctx, key, nil)
	if err != nil {
		return err
	}
	enc, err := native.Format{}.NewEncoder(w, layout.ViewValues)
	for i := 0; err == nil && i < len(recs); i++ {
		err = enc.Encode(&recs[i])
	}
	if c, ok := enc.(format.Closer); ok && err == nil {
		err = c.Close()
	}
	if err != nil {
		cancel()
		_ = w.Close() // the encoding error is the one to report
		return err
	}
	return w.Close()
}

// Reading an object as kferry 1.0 wrote it for an encrypted backup (a golden
// fixture, sealed for a test-only key): seal.OpenMaybe decrypts it, or passes
// an unencrypted object through, and the decoder reads any Avro codec.
func ExampleFormat_NewDecoder() {
	key, err := seal.Load("testdata/v1.0/TEST-ONLY-age-key.txt")
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := os.Open("testdata/v1.0/zstandard-encrypted.kfr")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	plain, err := seal.OpenMaybe(f, key)
	if err != nil {
		fmt.Println(err)
		return
	}
	dec, err := native.Format{}.NewDecoder(plain, layout.ViewValues)
	if err != nil {
		fmt.Println(err)
		return
	}
	n := 0
	for ; ; n++ {
		var rec record.Record
		if err := dec.Next(&rec); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			fmt.Println(err)
			return
		}
		if n < 4 {
			fmt.Printf("%d %s key=%s value=%s headers=%d\n", rec.Offset, rec.TimestampType, orNull(rec.Key), orNull(rec.Value), len(rec.Headers))
		}
	}
	fmt.Println(n, "records")
	// Output:
	// 100 CreateTime key=order-1 value={"id":1,"note":"größe ✓"} headers=8
	// 101 CreateTime key=null value=null key headers=0
	// 102 LogAppendTime key=empty value value="" headers=0
	// 103 CreateTime key=order-1 value=null headers=1
	// 1007 records
}

func orNull(b []byte) string {
	switch {
	case b == nil:
		return "null"
	case len(b) == 0:
		return `""`
	}
	return string(b)
}
