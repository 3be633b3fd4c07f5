// Package avrofmt is the avro format: objects as Confluent's S3 Sink
// AvroFormat writes them, Avro object container files (.avro) holding the
// records of one writer schema each, with avro.codec null, deflate, snappy or
// zstandard.
//
// Export: a value must be in the Confluent wire format (magic byte 0, a 4-byte
// schema id, the Avro binary datum); the schema comes from the Schema Registry
// by id and is the object's writer schema, and a record of another schema
// starts a new object (format.Fitter). The datum is checked against the schema
// and copied, not decoded and re-encoded. Keys in the wire format are Avro
// keys; other keys are written as ["null","string"] (UTF-8) or
// ["null","bytes"], as StringConverter and ByteArrayConverter keys. Headers
// are an array of io.confluent.connect.avro.ConnectDefault {key, value}
// strings. The magic-1 (GUID) variant and schema ids in __key_schema_id /
// __value_schema_id headers are recognised and refused.
//
// Differences from Confluent's files: the writer schema is the registry's
// text (compacted), not the schema the connector derives through Connect
// (connect.name, connect.version, connect.parameters props, optional-field
// defaults); the sync marker is derived from topic, partition and start offset
// instead of random, so a rerun writes the same bytes.
//
// Import: the file's schema (kferry's or the connector's) is registered for
// the object's topic (Registry.Register: subject <topic>-value by default,
// after renames) and each datum becomes magic byte 0, the new id, the datum.
package avrofmt
