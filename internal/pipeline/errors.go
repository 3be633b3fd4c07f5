package pipeline

import "errors"

// ErrShutdownTimeout means a continuous export was stopped but could not finish
// its open objects within FollowOptions.ShutdownTimeout; the error names them.
var ErrShutdownTimeout = errors.New("shutdown timed out")

// ErrTargetPartitions means a target topic has fewer partitions than the bucket needs.
var ErrTargetPartitions = errors.New("target topic has too few partitions")

// ErrTargetNotEmpty means a target topic already holds records.
var ErrTargetNotEmpty = errors.New("target topic not empty")

// ErrTargetMissing means a target topic does not exist and may not be created.
var ErrTargetMissing = errors.New("target topic missing")

// ErrBackupBucket means import was pointed at the objects of kferry backups,
// which kferry restore reads (lineages, checksums, group offsets).
var ErrBackupBucket = errors.New("the bucket holds kferry backups")

// ErrBadShard means a --shard value is not I/N with 0 ≤ I < N.
var ErrBadShard = errors.New("bad shard")

// ErrLineageChanged means a source topic was deleted and recreated (the
// backup holds a new lineage of its partitions) while the target still holds
// records restored from the old one: one topic must not mix them.
var ErrLineageChanged = errors.New("source topic was deleted and recreated")
