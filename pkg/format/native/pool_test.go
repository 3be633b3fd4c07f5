package native

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// Many small objects decoded at once, each read to its end or dropped halfway
// after a read error, hand read buffers between them through the pool: every
// record kept from every object still holds its own bytes (run with -race).
func TestPooledReadersConcurrently(t *testing.T) {
	const objects, perObject = 64, 40
	bodies := make([][]byte, objects)
	for o := range bodies {
		var recs []record.Record
		for i := range perObject {
			v := bytes.Repeat([]byte{byte(o)}, 1+(o*perObject+i)%300)
			recs = append(recs, record.Record{Topic: "t", Offset: int64(i), Key: []byte(fmt.Sprint(o, "/", i)), Value: v,
				Headers: []record.Header{{Key: fmt.Sprint("h", o), Value: v[:1]}}})
		}
		bodies[o] = encodeAll(t, Format{}, recs)
	}
	var wg sync.WaitGroup
	errs := make(chan error, objects*8)
	for round := range 8 {
		for o := range objects {
			wg.Go(func() {
				var r io.Reader = bytes.NewReader(bodies[o])
				cut := (o+round)%5 == 0
				if cut {
					r = io.MultiReader(bytes.NewReader(bodies[o][:len(bodies[o])/2]), errReader{errors.New("boom")})
				}
				dec, err := Format{}.NewDecoder(r, layout.ViewValues)
				if err != nil {
					errs <- err
					return
				}
				var kept []record.Record
				for {
					var rec record.Record
					err := dec.Next(&rec)
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						if !cut {
							errs <- err
						}
						break
					}
					kept = append(kept, rec)
				}
				for i, rec := range kept {
					if string(rec.Key) != fmt.Sprint(o, "/", i) || len(rec.Value) != 1+(o*perObject+i)%300 ||
						bytes.Count(rec.Value, []byte{byte(o)}) != len(rec.Value) || rec.Headers[0].Key != fmt.Sprint("h", o) || rec.Headers[0].Value[0] != byte(o) {
						errs <- fmt.Errorf("object %d record %d: %q %q %v", o, i, rec.Key, rec.Value[:1], rec.Headers)
						return
					}
				}
				if !cut && len(kept) != perObject {
					errs <- fmt.Errorf("object %d: %d records", o, len(kept))
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
