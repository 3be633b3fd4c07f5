// Package native is kferry's full-fidelity object format: an Avro object
// container file with one fixed record schema (offset, timestamp and its type,
// key, value, headers), as specified in docs/FORMAT.md.
//
// It is the format of kferry backup and migrate. Unlike the Confluent formats,
// one object holds everything a Kafka record has: every record's own offset
// (offsets need not be contiguous), null distinct from empty for keys, values
// and header values, and headers in order with duplicate keys and binary values.
// There are no ".keys" or ".headers" sidecars, so only the values view exists.
// Objects are named like Confluent's with the extension ".kfr"
// (topics/<topic>/partition=<p>/<topic>+<p>+<start offset>.kfr), so a reader
// that lists ".avro" objects never takes them for AvroFormat values, and
// standard Avro tools (avro-tools, fastavro) read them.
//
// # Writing and reading
//
// [Format.NewEncoder] returns an encoder that writes the container header with
// the first record (naming its topic and partition in the metadata) and a block
// every 1,000 records or 1 MiB, compressed with [Format.Codec] (zstandard by
// default); call its Close (it implements format.Closer) before closing the
// underlying writer. [Format.NewDecoder] reads any of the four Avro codecs and
// fills every field of each record.
//
// A backup encrypts its objects with package seal on top of this format: open
// the object with seal.OpenMaybe before decoding it. Package manifest lists the
// objects of a backup with their offsets, record counts and checksums.
//
// # Versions
//
// Every object carries its format version ([Version], in the metadata key
// [MetaVersion]). A reader refuses a major version it does not know
// ([ErrVersion]) and reads every minor version of its own major. The golden
// fixtures under testdata/ are objects as each released version wrote them;
// every later kferry must keep decoding them. Every size in a file is checked
// before anything is allocated for it ([MaxRecordBytes], [MaxBlockBytes]), so a
// corrupt or hostile object fails with format.ErrMalformed rather than
// exhausting memory.
//
// Importing the package registers the format as "native" (see package format).
package native
