package layout_test

import (
	"errors"
	"fmt"

	"github.com/kferry/kferry/pkg/layout"
)

// An importer's view of the objects in a bucket: parse each key, keep those the
// --files filters admit, rename the topic as --rename says, and name the object
// the renamed topic would have.
func Example() {
	filters, err := layout.ParseFileFilters(`source-topic-1:.*\.json(\.gz)?`)
	if err != nil {
		fmt.Println(err)
		return
	}
	renames, err := layout.ParseRenames([]string{`source-topic-(\d)=sink-topic-$1`})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, key := range []string{
		"topics/source-topic-1/partition=3/source-topic-1+3+0000000040.keys.json.gz",
		"topics/source-topic-1/partition=3/source-topic-1+3+0000000040.bin",
		"topics/source-topic-1/partition=3/notes.txt",
	} {
		o, err := layout.Parse(key, layout.DefaultTopicsDir)
		if err != nil {
			fmt.Println("skip:", errors.Is(err, layout.ErrNotObject))
			continue
		}
		if !filters.Admits(o.Topic, key) {
			fmt.Println("filtered out:", o.Topic, o.StartOffset, o.Ext)
			continue
		}
		fmt.Println(o.Topic, o.Partition, o.StartOffset, o.View, o.Ext, o.Gzip)
		if o.Topic, err = renames.Target(o.Topic); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(layout.Naming{TopicsDir: "copy", Pad: 20}.Key(o))
	}
	// Output:
	// source-topic-1 3 40 keys .json true
	// copy/sink-topic-1/partition=3/sink-topic-1+3+00000000000000000040.keys.json.gz
	// filtered out: source-topic-1 40 .bin
	// skip: true
}

func ExampleNaming_Key() {
	n := layout.Naming{TopicsDir: layout.DefaultTopicsDir}
	o := layout.Object{Topic: "orders", Partition: 3, StartOffset: 40, Ext: ".json"}
	fmt.Println(n.Key(o))
	o.View, o.Gzip = layout.ViewKeys, true
	fmt.Println(n.Key(o))
	fmt.Println(n.PartitionPrefix("orders", 3))
	// Output:
	// topics/orders/partition=3/orders+3+0000000040.json
	// topics/orders/partition=3/orders+3+0000000040.keys.json.gz
	// topics/orders/partition=3/
}

func ExampleParse() {
	o, err := layout.Parse("topics/orders/partition=3/orders+3+0000000040.headers.json", "topics")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(o.Topic, o.Partition, o.StartOffset, o.View, o.Ext, o.Gzip)

	_, err = layout.Parse("topics/orders/partition=4/orders+3+0000000040.json", "topics")
	fmt.Println(err)
	// Output:
	// orders 3 40 headers .json false
	// object key "topics/orders/partition=4/orders+3+0000000040.json": folder "partition=4" differs from partition 3 in the file name: not a Confluent S3 Sink object key
}

func ExampleSortObjects() {
	var objs []layout.Object
	for _, key := range []string{
		"topics/t/partition=0/t+0+12345678901.json",
		"topics/t/partition=0/t+0+9999999999.keys.json",
		"topics/t/partition=0/t+0+9999999999.json",
	} {
		o, err := layout.Parse(key, "topics")
		if err != nil {
			fmt.Println(err)
			return
		}
		objs = append(objs, o)
	}
	layout.SortObjects(objs)
	for _, o := range objs {
		fmt.Println(o.StartOffset, o.View)
	}
	// Output:
	// 9999999999 values
	// 9999999999 keys
	// 12345678901 values
}

func ExampleParseFileFilters() {
	f, err := layout.ParseFileFilters(`orders:.*\.json,payments:payments\+0\+.*`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Topics())
	fmt.Println(f.Admits("orders", "topics/orders/partition=3/orders+3+0000000040.json"))
	fmt.Println(f.Admits("orders", "topics/orders/partition=3/orders+3+0000000040.avro"))
	fmt.Println(f.Admits("payments", "topics/payments/partition=1/payments+1+0000000000.json"))
	// Output:
	// [orders payments]
	// true
	// false
	// false
}

func ExampleParseRenames() {
	rs, err := layout.ParseRenames([]string{
		`source-topic-(\d)=sink-topic-$1`,
		`(.*)=restored.$1`,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rs.Apply("source-topic-1"))
	fmt.Println(rs.Apply("orders"))
	// Output:
	// sink-topic-1
	// restored.orders
}

func ExampleRenames_Target() {
	rs, err := layout.ParseRenames([]string{`(.*)=$1:copy`})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = rs.Target("orders")
	fmt.Println(err)
	// Output:
	// rename topic "orders" with "(.*)=$1:copy": topic name "orders:copy": character ':' is not allowed (only a-z A-Z 0-9 . _ -): invalid Kafka topic name
}
