package jsonfmt_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kferry/kferry/pkg/format/jsonfmt"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// Values are compacted, keys become JSON strings, headers are enveloped: the three
// objects Confluent's S3 Sink writes for one start offset.
func ExampleFormat_NewEncoder() {
	rec := record.Record{
		Offset:  40,
		Key:     []byte("order-1"),
		Value:   []byte(`{"id": 1, "amount": "AZA="}`),
		Headers: []record.Header{{Key: "trace", Value: []byte("abc")}},
	}
	for _, view := range []layout.View{layout.ViewValues, layout.ViewKeys, layout.ViewHeaders} {
		enc, _ := jsonfmt.Format{}.NewEncoder(os.Stdout, view)
		if err := enc.Encode(&rec); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// {"id":1,"amount":"AZA="}
	// "order-1"
	// {"headers":[{"key":"trace","value":"abc"}]}
}

// A value that is not JSON is refused; --format bytes carries it.
func ExampleFormat_NewEncoder_notJSON() {
	enc, _ := jsonfmt.Format{}.NewEncoder(io.Discard, layout.ViewValues)
	err := enc.Encode(&record.Record{Offset: 7, Value: []byte("plain text")})
	fmt.Println(err != nil, strings.Contains(err.Error(), "--format bytes"))
	// Output: true true
}

// A keys object written by Confluent with StringConverter keys reads back as the
// keys' text; null is a null key.
func ExampleFormat_NewDecoder() {
	dec, _ := jsonfmt.Format{}.NewDecoder(strings.NewReader("\"order-1\"\nnull\n"), layout.ViewKeys)
	for {
		var rec record.Record
		if err := dec.Next(&rec); errors.Is(err, io.EOF) {
			break
		}
		fmt.Printf("%q %v\n", rec.Key, rec.Key == nil)
	}
	// Output:
	// "order-1" false
	// "" true
}

func ExampleAppendString() {
	fmt.Println(string(jsonfmt.AppendString(nil, []byte("tab\t<ESC>\x1b"))))
	// Output: "tab\t<ESC>\u001B"
}
