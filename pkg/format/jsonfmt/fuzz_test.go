package jsonfmt

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/linereader"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// FuzzDecode feeds arbitrary objects to every view's decoder: records or an
// error wrapping format.ErrMalformed (or linereader.ErrTooLong), never a panic.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for v := range 3 {
			f.Add(b, uint8(v))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, view uint8) {
		v := layout.View(view % 3)
		dec, err := Format{}.NewDecoder(bytes.NewReader(body), v)
		if err != nil {
			t.Fatal(err)
		}
		for range 100_000 {
			var rec record.Record
			err := dec.Next(&rec)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				if !errors.Is(err, format.ErrMalformed) && !errors.Is(err, linereader.ErrTooLong) {
					t.Fatalf("error not classified: %v", err)
				}
				return
			}
		}
	})
}
