package objset_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/kferry/kferry/internal/objset"
	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/store"
)

// TestWriterSpills: a set keeps a small object in memory and starts no upload
// before Commit; past 256 KiB it streams, unless it is held, and then only
// after Release; every way, the object holds every record once.
func TestWriterSpills(t *testing.T) {
	f, err := format.Lookup("bytes")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := store.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
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
