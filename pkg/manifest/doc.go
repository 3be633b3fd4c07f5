// Package manifest is the versioned catalogue of a kferry backup: what each run
// captured (topics, configs, consumer groups, objects with checksums) and how to
// find the newest one in a bucket. docs/FORMAT.md specifies it.
//
// # A backup in a bucket
//
// A backup is native objects (package native) under the Confluent layout and,
// written last, one [Manifest] per run at [Key](id) under [Prefix], where the id
// ([NewID]) is the run's start time, so ids sort by time and [Newest] is the
// greatest. Backups are incremental, but every manifest lists all the objects of
// the backup (earlier runs' too), so one manifest is enough to restore: read the
// newest, then each object it lists. A run that failed wrote no manifest, and the
// one before it stays the newest.
//
// For each partition a manifest records the offset range it covers, the
// [Gap]s that retention left, and its [Object]s in offset order with their
// record counts, sizes, SHA-256 and the partition's rolling digest after each
// object ([Roll], [HexDigest]). Checking an object is reading it: its bytes
// hash to SHA256, and its records, rolled on from the digest of the object
// before it, end at its Digest. Offsets are left out of the digest, so a
// restored topic compares equal to its backup. [Manifest.Groups] holds the
// consumer groups' committed offsets at backup time.
//
// # Versions and encryption
//
// Every manifest carries [FormatVersion] (major.minor). [Unmarshal] refuses a
// major version it does not know ([ErrVersion]) and reads newer minors, ignoring
// fields it does not know; the golden fixtures under testdata/ are manifests as
// each released version wrote them, and every later kferry must keep reading
// them.
//
// An encrypted backup's manifest is an envelope ([MarshalSealed]) that shows its
// id and the public id of the key it needs ([Peek]) and seals the rest with
// package seal; [UnmarshalSealed] opens it with the key, or fails with
// [ErrSealed] naming the key it needs. UnmarshalSealed also reads plain
// manifests, so readers call it whether or not they hold a key.
package manifest
