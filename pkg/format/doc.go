// Package format is the contract between kferry's pipeline and its object
// formats: a [Format] turns records into the bytes of one object view and back,
// and a registry finds formats by name (for writers) and by object extension
// (for readers).
//
// # Formats and views
//
// Each format lives in a package of its own and registers itself in its init
// function, the way database/sql drivers and gocloud.dev's URL openers do:
//
//	import (
//		_ "github.com/kferry/kferry/pkg/format/bytesfmt" // "bytes", .bin: Confluent's ByteArrayFormat
//		_ "github.com/kferry/kferry/pkg/format/jsonfmt"  // "json", .json: Confluent's JsonFormat
//		_ "github.com/kferry/kferry/pkg/format/native"   // "native", .kfr: kferry's full-fidelity format
//	)
//
// A writer picks a format with [Lookup] (the value of --format); a reader picks
// it with [ByExt] from the extension that [github.com/kferry/kferry/pkg/layout.Parse]
// finds in an object key, so a bucket written by Confluent's S3 Sink connector
// and one written by kferry read the same way.
//
// Confluent's formats keep the parts of a record in parallel objects of one
// start offset: values, ".keys" and ".headers" (a [github.com/kferry/kferry/pkg/layout.View]).
// An [Encoder] writes one view of each record and a [Decoder] fills one view's
// field of each record, so a reader decodes the three objects into the same
// records. Their offsets follow from the object's start offset: the Confluent
// formats do not store them. A format that does ([OffsetKeeper], the native
// format) fills every field from one object.
//
// # What a format does not do
//
// Compression (".gz"), client-side encryption (package seal), object naming
// (package layout) and the bucket (package store) are the caller's: a Format
// reads and writes plain streams, is stateless and safe for concurrent use; its
// Encoders and Decoders are not. Errors wrap [ErrUnsupported] for a record the
// format cannot hold and [ErrMalformed] for content that does not parse, with the
// offset, line or byte position that helps.
package format
