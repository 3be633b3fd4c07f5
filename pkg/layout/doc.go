// Package layout names, parses, sorts, filters and renames objects in the
// Confluent S3 Sink object layout. It is pure (no I/O) so the exporter, the
// importer and the CLI share one definition of that layout.
//
// # Object keys
//
// Confluent's S3 Sink connector, with its default partitioner, writes each batch
// of one Kafka partition to an object named after the partition and the offset
// of its first record:
//
//	topics/orders/partition=3/orders+3+0000000040.json          values
//	topics/orders/partition=3/orders+3+0000000040.keys.json     keys   (store.kafka.keys)
//	topics/orders/partition=3/orders+3+0000000040.headers.json  headers (store.kafka.headers)
//
// [Naming] builds such keys from an [Object] (writers), and [Parse] turns a key
// back into one (readers): topic, partition, start offset, [View], format
// extension and whether it is gzip-compressed. Parse accepts any offset pad and
// refuses keys that only look like objects ([ErrNotObject]): a folder that
// disagrees with the name, a topic Kafka would not accept ([ValidTopic]).
// [SortObjects] orders a partition's objects by start offset, as numbers, with
// the values object before its sidecars.
//
// # Choosing and renaming
//
// [ParseFileFilters] reads Confluent's topic.regex.list ("topic:regex,...") into
// [FileFilters], which admit or skip object keys per topic. [ParseRenames] reads
// REGEX=REPLACEMENT rules with the semantics of Kafka Connect's RegexRouter: the
// regex matches the whole topic, the replacement is Java's ($1, ${name}), and the
// first rule that matches wins; [Renames.Target] also checks that the new name is
// a valid topic. Parse errors wrap [ErrInvalidFilter] and [ErrInvalidRename] and
// name the bad entry.
package layout
