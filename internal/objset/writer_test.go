package objset_test

import (
	"bytes"
	"context"
	"testing"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/objset"
	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/store"

	_ "github.com/kferry/kferry/pkg/format/native"
)

// TestWriterSpills: a set keeps a small object in memory and starts no upload
// before Commit; past 256 KiB it streams, unless it is held, and then only
// after Release; every way, the object holds every record once.
func TestWriterSpills(t *testing.T) {
	ctx := context.Background()
	f, b := formatAndBucket(t, "bytes")
	value := bytes.Repeat([]byte("v"), 1000)
	for _, tc := range []struct {
		name               string
		hold               bool
		records            int
		streamsAt, release int // record count after which Streaming turns true (0: never); Release after this many (0: never)
	}{
		{"small", false, 100, 0, 0},
		{"large", false, 400, 262, 0}, // 1,000 bytes and a length each
		{"held", true, 400, 0, 0},
		{"released", true, 400, 301, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, err := objset.Create(ctx, b, objset.Spec{Naming: layout.Naming{TopicsDir: tc.name}, Formats: objset.Formats{f}, Topic: "t", Hold: tc.hold})
			if err != nil {
				t.Fatal(err)
			}
			streamed := 0
			for i := range tc.records {
				if err := set.Add(&record.Record{Topic: "t", Offset: int64(i), Value: value}); err != nil {
					t.Fatal(err)
				}
				if set.Streaming() && streamed == 0 {
					streamed = i + 1
				}
				if i+1 == tc.release {
					set.Release()
				}
			}
			if streamed != tc.streamsAt {
				t.Errorf("streaming after %d records, want %d", streamed, tc.streamsAt)
			}
			if held := set.Buffered(); (streamed == 0 && held < int64(tc.records*len(value))) || (streamed > 0 && held >= 256<<10) {
				t.Errorf("%d bytes wait in memory (streaming after %d records)", held, streamed)
			}
			if ok, _ := b.Exists(ctx, set.Keys()[0]); ok {
				t.Errorf("%s is visible before Commit", set.Keys()[0])
			}
			if err := set.Commit(); err != nil {
				t.Fatal(err)
			}
			body, err := b.ReadAll(ctx, set.Keys()[0])
			if err != nil {
				t.Fatal(err)
			}
			if len(body) < tc.records*len(value) || bytes.Count(body, value) != tc.records {
				t.Errorf("the object holds %d bytes with %d values, want %d values", len(body), bytes.Count(body, value), tc.records)
			}
		})
	}
}

// TestWriterHeldNative: a native encoder keeps up to a block (1 MiB) of
// records to itself before it compresses them into the object, so a held set
// of compressible records has almost nothing pending; Buffered must still
// count them, or a window of such sets takes none of them for waiting in
// memory and never pauses. Once released, only what waits for the upload
// counts.
func TestWriterHeldNative(t *testing.T) {
	ctx := context.Background()
	f, b := formatAndBucket(t, "native")
	set, err := objset.Create(ctx, b, objset.Spec{Naming: layout.Naming{TopicsDir: "topics"}, Formats: objset.Formats{f}, Topic: "t", Hold: true})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Abort()
	value := bytes.Repeat([]byte("abcdefg"), 1000)
	const n = 100 // 700 KB: less than a block
	for i := range n {
		if err := set.Add(&record.Record{Topic: "t", Offset: int64(i), Value: value}); err != nil {
			t.Fatal(err)
		}
	}
	if held := set.Buffered(); held < n*int64(len(value)) {
		t.Errorf("a held set of %d bytes of records reports %d bytes in memory", n*len(value), held)
	}
	set.Release()
	if held := set.Buffered(); held >= n*int64(len(value)) {
		t.Errorf("a released set reports %d bytes in memory, want what waits for the upload only", held)
	}
}

// formatAndBucket looks up a registered format and opens a mem:// bucket
// closed when the test ends.
func formatAndBucket(t *testing.T, name string) (format.Format, *blob.Bucket) {
	t.Helper()
	f, err := format.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.Open(context.Background(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return f, b
}

// TestWriterFullBeforeUploadLimit: uploads hold 5 MiB parts and S3 takes at
// most 10,000 of them, so an object larger than 48.8 GiB fails at the end of
// its upload ("exceeded total allowed MaxUploadParts"), after every byte was
// sent. Rotation by --rotate-bytes looks at the values object only and is off
// with --rotate-bytes 0, so a big partition (or big headers beside small
// values) could reach that. A set must say it is Full, for its export to
// rotate, before any of its objects (sidecars too) outgrows an upload.
func TestWriterFullBeforeUploadLimit(t *testing.T) {
	if max := objset.MaxObjectBytes(); max <= 0 || max+1<<30 > objset.UploadLimit {
		t.Fatalf("sets are full at %d bytes, want at least 1 GiB under the upload limit %d", max, objset.UploadLimit)
	}
	defer objset.SetMaxObjectBytes(10_000)()
	ctx := context.Background()
	f, b := formatAndBucket(t, "json")
	set, err := objset.Create(ctx, b, objset.Spec{Formats: objset.Formats{f, nil, f}, Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Abort()
	// Values of 3 bytes, headers of some 1 KiB: the headers object outgrows
	// the limit long before the values object does.
	rec := record.Record{Topic: "t", Value: []byte("{}"), Headers: []record.Header{{Key: "h", Value: bytes.Repeat([]byte("x"), 1000)}}}
	full := 0
	for i := range 20 {
		rec.Offset = int64(i)
		if err := set.Add(&rec); err != nil {
			t.Fatal(err)
		}
		if set.Full() {
			full = i + 1
			break
		}
	}
	if full != 10 {
		t.Fatalf("the set is full after %d records, want 10 (headers object ≥ 10,000 bytes, values object %d bytes)", full, set.Bytes())
	}
}
