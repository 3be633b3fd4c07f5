package format_test

import (
	"fmt"
	"os"

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
