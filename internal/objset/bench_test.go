package objset_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kferry/kferry/internal/objset"
	"github.com/kferry/kferry/pkg/format"
	_ "github.com/kferry/kferry/pkg/format/bytesfmt"
	_ "github.com/kferry/kferry/pkg/format/jsonfmt"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/store"
)

// BenchmarkObjectSetAdd measures export's per-record work after the Kafka reader:
// encoding 1 KiB values into objects of 10,000 records in a file:// bucket (the
// kernel's share, writing the files, is most of the time).
func BenchmarkObjectSetAdd(b *testing.B) {
	for _, name := range []string{"bytes", "json"} {
		b.Run(name, func(b *testing.B) {
			f, err := format.Lookup(name)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			bucket, err := store.Open(ctx, "file://"+b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer bucket.Close()
			head := `{"id":1,"pad":"`
			rec := &record.Record{Topic: "bench", Value: []byte(head + strings.Repeat("x", 1024-len(head)-2) + `"}`)}
			b.SetBytes(int64(len(rec.Value)))
			b.ReportAllocs()
			var set *objset.Writer
			for i := 0; b.Loop(); i++ {
				if set == nil {
					if set, err = objset.Create(ctx, bucket, objset.Spec{Naming: layout.Naming{Pad: 10}, Formats: objset.Formats{f}, Topic: "bench", Start: int64(i)}); err != nil {
						b.Fatal(err)
					}
				}
				rec.Offset = int64(i)
				if err := set.Add(rec); err != nil {
					b.Fatal(err)
				}
				if set.Records() == 10000 {
					if err := set.Commit(); err != nil {
						b.Fatal(fmt.Errorf("commit: %w", err))
					}
					set = nil
				}
			}
			if set != nil {
				set.Abort()
			}
		})
	}
}
