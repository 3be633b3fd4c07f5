package format_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kferry/kferry/pkg/format"
	_ "github.com/kferry/kferry/pkg/format/jsonfmt" // registers "json"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// Writers find a format by its --format name, readers by an object's extension.
func Example() {
	f, err := format.Lookup("json")
	if err != nil {
		panic(err)
	}
	enc, _ := f.NewEncoder(os.Stdout, layout.ViewValues)
	_ = enc.Encode(&record.Record{Value: []byte(`{ "id": 1 }`)})
	g, _ := format.ByExt(".json")
	fmt.Println(g.Name())
	// Output:
	// {"id":1}
	// json
}

// Reading what Confluent's S3 Sink connector wrote for one start offset: the
// values, keys and headers objects, each found by its extension and decoded
// into the same records. The Confluent formats do not store offsets; they
// follow from the start offset in the object's name.
func ExampleByExt() {
	objects := []struct{ key, body string }{
		{"topics/orders/partition=3/orders+3+0000000040.json", "{\"id\": 1}\n{\"id\": 2}\n"},
		{"topics/orders/partition=3/orders+3+0000000040.keys.json", "\"order-1\"\nnull\n"},
		{"topics/orders/partition=3/orders+3+0000000040.headers.json", "{\"headers\":[{\"key\":\"trace\",\"value\":\"abc\"}]}\n{\"headers\":[]}\n"},
	}
	var recs []record.Record
	for _, obj := range objects {
		o, err := layout.Parse(obj.key, layout.DefaultTopicsDir)
		if err != nil {
			fmt.Println(err)
			return
		}
		f, err := format.ByExt(o.Ext)
		if err != nil {
			fmt.Println(err)
			return
		}
		dec, err := f.NewDecoder(strings.NewReader(obj.body), o.View)
		if err != nil {
			fmt.Println(err)
			return
		}
		for i := 0; ; i++ {
			if o.View == layout.ViewValues {
				recs = append(recs, record.Record{Topic: o.Topic, Partition: o.Partition, Offset: o.StartOffset + int64(i)})
			} else if i == len(recs) {
				break // the sidecar must end here too; import checks that it does
			}
			// Next fills its view's field of the record and leaves the others.
			if err := dec.Next(&recs[i]); errors.Is(err, io.EOF) {
				if o.View == layout.ViewValues {
					recs = recs[:i]
				}
				break
			} else if err != nil {
				fmt.Println(err)
				return
			}
		}
	}
	for _, r := range recs {
		key := "null"
		if r.Key != nil {
			key = fmt.Sprintf("%q", r.Key)
		}
		fmt.Printf("%s/%d@%d key=%s value=%s headers=%d", r.Topic, r.Partition, r.Offset, key, r.Value, len(r.Headers))
		for _, h := range r.Headers {
			fmt.Printf(" %s=%s", h.Key, h.Value)
		}
		fmt.Println()
	}
	// Output:
	// orders/3@40 key="order-1" value={"id":1} headers=1 trace=abc
	// orders/3@41 key=null value={"id":2} headers=0
}

// Only the formats a program imports are registered: a name nobody registered is
// ErrUnknownFormat.
func ExampleLookup() {
	_, err := format.Lookup("avro")
	fmt.Println(errors.Is(err, format.ErrUnknownFormat))
	// Output: true
}
