// Package linereader splits an object into separator-terminated records with a
// bound on record size, counting lines for error messages.
//
// It is the reading half that the line-based formats (jsonfmt, bytesfmt) share:
// a [Reader] returns one record per Next, with its 1-based line number and byte
// offset for errors, accepts a final record without a separator (as Confluent's
// readers do), and refuses a record longer than [MaxRecordBytes] with
// [ErrTooLong] instead of growing without limit on a corrupt object. A [Slab]
// hands out decoded records from large shared buffers, so a decoder does not
// allocate per record.
package linereader
