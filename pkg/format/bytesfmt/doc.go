// Package bytesfmt is Confluent's ByteArrayFormat: each record's raw bytes
// followed by a separator ("\n" by default), the one byte-exact format of the S3
// connectors.
//
// Values and keys (".keys" objects) are written as they are, without escaping,
// so a payload that contains the separator would read back as two records: it
// is refused with [format.ErrUnsupported] instead. The format has no headers
// view (Confluent writes headers only as json, avro or parquet).
//
// Importing the package registers the format as "bytes" with the extension
// ".bin" (see package format).
package bytesfmt
