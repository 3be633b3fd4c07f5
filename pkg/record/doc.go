// Package record defines the one record type that flows through kferry, from
// the Kafka reader through encoders and decoders to the Kafka writer.
//
// A [Record] carries what Kafka keeps of a record: topic, partition, offset,
// timestamp and its [TimestampType], key, value and [Header]s. Nil and empty
// are different everywhere, as in Kafka: a nil Value is a tombstone, a nil Key a
// null key, a nil header value a null one. Nothing is dropped between reader and
// writer unless the chosen format cannot hold it, and then the format's encoder
// says so (format.ErrUnsupported) instead of writing less.
package record
