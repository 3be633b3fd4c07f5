package layout_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kferry/kferry/pkg/layout"
)

// An exporter names the folder of a record stamped 18:42 in Berlin as
// Confluent's HourlyPartitioner does; an importer reads the bucket back.
func ExampleTimePartitioner() {
	p, err := layout.NewTimePartitioner(layout.TimeConfig{
		PathFormat: layout.HourlyPathFormat,
		Duration:   time.Hour,
		Timezone:   "Europe/Berlin",
		Locale:     "en",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ts := time.Date(2026, 11, 30, 17, 42, 0, 0, time.UTC)
	folder := p.Folder(ts)
	fmt.Println(folder)
	fmt.Println(p.Bucket(ts))
	fmt.Println(p.ParseFolder(folder))
	_, err = p.ParseFolder("partition=3")
	fmt.Println(err)
	// Output:
	// year=2026/month=11/day=30/hour=18
	// 2026-11-30 17:00:00 +0000 UTC
	// 2026-11-30 17:00:00 +0000 UTC <nil>
	// folder "partition=3", path.format "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH": folder does not match path.format
}

// FieldPartitioner folders from a JSON record decoded with UseNumber.
func ExampleFieldFolder() {
	dec := json.NewDecoder(strings.NewReader(`{"country": "DE", "id": 42, "price": 9.5}`))
	dec.UseNumber()
	var record map[string]any
	if err := dec.Decode(&record); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(layout.FieldFolder([]string{"country", "id"}, []any{record["country"], record["id"]}))
	_, err := layout.FieldFolder([]string{"price"}, []any{record["price"]})
	fmt.Println(err)
	// Output:
	// country=DE/id=42 <nil>
	// partition field "price": number 9.5 is not a 64-bit integer; Confluent partitions by INT8-INT64 only: field value cannot name a partition folder
}
