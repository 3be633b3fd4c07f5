package record_test

import (
	"fmt"

	"github.com/kferry/kferry/pkg/record"
)

// Nil and empty differ, as in Kafka: a nil Value is a tombstone, an empty one
// is a record whose value has no bytes. Size counts the bytes either way.
func ExampleRecord_Size() {
	tombstone := record.Record{Key: []byte("order-1"), Value: nil}
	empty := record.Record{Key: []byte("order-1"), Value: []byte{}, Headers: []record.Header{{Key: "trace", Value: nil}}}
	fmt.Println(tombstone.Value == nil, tombstone.Size())
	fmt.Println(empty.Value == nil, empty.Size())
	fmt.Println(record.TimestampLogAppendTime, record.TimestampUnknown)
	// Output:
	// true 7
	// false 12
	// LogAppendTime NoTimestampType
}
