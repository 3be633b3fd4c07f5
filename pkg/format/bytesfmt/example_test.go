package bytesfmt_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/bytesfmt"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// Each value is written as is, followed by "\n", like Confluent's ByteArrayFormat.
func ExampleFormat_NewEncoder() {
	enc, _ := bytesfmt.Format{}.NewEncoder(os.Stdout, layout.ViewValues)
	for _, v := range []string{"abc", "def"} {
		_ = enc.Encode(&record.Record{Value: []byte(v)})
	}
	// A value holding the separator would read back as two records: refused.
	err := enc.Encode(&record.Record{Offset: 2, Value: []byte("two\nlines")})
	fmt.Println(errors.Is(err, format.ErrUnsupported))
	// Output:
	// abc
	// def
	// true
}

func ExampleFormat_NewDecoder() {
	dec, _ := bytesfmt.Format{}.NewDecoder(strings.NewReader("abc\n\x01\xff\n"), layout.ViewValues)
	for {
		var rec record.Record
		if err := dec.Next(&rec); errors.Is(err, io.EOF) {
			break
		}
		fmt.Printf("%q\n", rec.Value)
	}
	// Output:
	// "abc"
	// "\x01\xff"
}
