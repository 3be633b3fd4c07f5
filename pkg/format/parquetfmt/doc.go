// Package parquetfmt is the parquet format: objects as Confluent's S3 Sink
// ParquetFormat writes them (parquet-avro's mapping of each record's Avro
// schema, .snappy.parquet by default), readable by pyarrow, DuckDB and Athena.
//
// Export: values are Avro records in the Confluent wire format (as for
// --format avro, whose registry lookups and checks it shares); each datum is
// written straight into Parquet columns, a record of another schema starts a
// new object, and a row group is closed once its records reach the row-group
// size, which bounds memory. Keys and headers sidecars hold the envelopes
// RecordKey{key} and RecordHeaders{headers}. The file's metadata carries the
// Avro schema (parquet.avro.schema), as parquet-avro writes it.
//
// Import: the Avro schema in the metadata is registered for the object's
// topic and each row becomes magic byte 0, the new id and the Avro datum,
// byte for byte the datum that was exported. A file is spooled to a temporary
// file first: Parquet keeps its index at the end.
package parquetfmt
