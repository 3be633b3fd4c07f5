// Package jsonfmt is Confluent's JsonFormat: one compact JSON value and "\n" per
// record, with the keys and headers views the S3 Sink connector writes.
//
// A values object holds each record's value, compacted, one per line; a value
// that is not JSON, or a tombstone, is refused with [format.ErrUnsupported]
// (the bytes and native formats carry them). A ".keys" object holds each key as
// a JSON string (StringConverter keys); on read, null is a null key and any
// other JSON is kept as compact JSON (JsonConverter keys). A ".headers" object
// holds {"headers":[{"key":..,"value":..}]} per record, strings only. Strings
// are escaped as Jackson writes them ([AppendString]), so objects compare equal
// byte for byte with the connector's.
//
// Importing the package registers the format as "json" with the extension
// ".json" (see package format).
package jsonfmt
