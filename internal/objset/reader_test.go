package objset_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/objset"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/store"
)

// An object whose stream breaks before its first bytes arrive (the body of a
// dropped connection ends in io.ErrUnexpectedEOF) is a read error: read as an
// object of no records, an import moves its progress past it and, with
// --delete-imported, deletes it.
func TestOpenGroupCutStream(t *testing.T) {
	ctx := context.Background()
	b, err := store.Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	key := "topics/t/partition=0/t+0+0000000000.json"
	if err := b.WriteAll(ctx, key, []byte("{\"a\":1}\n{\"a\":2}\n"), nil); err != nil {
		t.Fatal(err)
	}
	g := catalog.Group{Values: catalog.ObjectInfo{Object: layout.Object{Topic: "t", View: layout.ViewValues, Ext: ".json"}, Key: key, Size: 16}}
	cut := func(io.Reader) io.Reader { return errReader{io.ErrUnexpectedEOF} }
	gr, err := objset.OpenGroupVia(ctx, b, g, nil, cut)
	if err != nil {
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("open: %v, want io.ErrUnexpectedEOF", err)
		}
		return
	}
	defer gr.Close()
	var rec record.Record
	if err := gr.Next(&rec); errors.Is(err, io.EOF) || err == nil {
		t.Fatalf("a cut stream read as %v; want its read error", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
