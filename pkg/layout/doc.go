// Package layout names, parses, sorts, filters and renames objects in the Confluent S3 Sink object layout.
// It is pure (no I/O) so the exporter, the importer and the CLI share one definition of that layout.
package layout
