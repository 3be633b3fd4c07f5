package cli

import (
	"context"
	"fmt"
	"strings"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/pkg/manifest"
)

// lsBackupView is what ls shows of one backup: its partitions from the
// manifest, and the bucket's objects that no manifest lists.
type lsBackupView struct {
	ID         string              `json:"id"`
	Newest     bool                `json:"newest"`
	Encrypted  bool                `json:"encrypted,omitempty"`
	Partitions []lsBackupPartition `json:"partitions"`
	// Unlisted counts the objects of the whole bucket that no manifest lists;
	// -1 when not every manifest could be read.
	Unlisted      int   `json:"unlisted_objects"`
	UnlistedBytes int64 `json:"unlisted_bytes"`
}

// lsBackupPartition is one partition of a backup.
type lsBackupPartition struct {
	Topic string `json:"topic"`
	// DeletedIn is the backup that first found the topic deleted from the source.
	DeletedIn string `json:"deleted_in,omitempty"`
	Partition int32  `json:"partition"`
	Lineage   int    `json:"lineage,omitempty"`
	Objects   int    `json:"objects"`
	Records   int64  `json:"records"`
	// StartOffset..EndOffset (exclusive) is the range the backup covers;
	// FirstOffset and LastOffset are its first and last record's (-1: none).
	StartOffset int64 `json:"start_offset"`
	EndOffset   int64 `json:"end_offset"`
	FirstOffset int64 `json:"first_offset"`
	LastOffset  int64 `json:"last_offset"`
	// Gaps are offsets retention removed before they were read: not in the backup.
	Gaps       []manifest.Gap `json:"gaps,omitempty"`
	GapOffsets int64          `json:"gap_offsets"`
	// MinTimestamp and MaxTimestamp bound the records' timestamps (Unix ms, 0: none).
	MinTimestamp int64 `json:"min_timestamp"`
	MaxTimestamp int64 `json:"max_timestamp"`
	// StoredBytes is what the objects take in the bucket: compressed (and
	// encrypted when the backup is), not the records' own size.
	StoredBytes int64 `json:"stored_bytes"`
}

// newBackupView describes backup id ("" = the newest) of the manifests read.
// Without a key for it, only its id is shown.
func newBackupView(ctx context.Context, b *blob.Bucket, id string, backups []lsBackup, ms []*manifest.Manifest) (*lsBackupView, error) {
	if len(backups) == 0 {
		return nil, nil
	}
	newest := backups[len(backups)-1].ID
	if id == "" {
		id = newest
	}
	v := &lsBackupView{ID: id, Newest: id == newest, Unlisted: -1}
	var m *manifest.Manifest
	for _, x := range ms {
		if x.ID == id {
			m = x
		}
	}
	if m == nil {
		for _, bk := range backups {
			if bk.ID == id && bk.Encrypted {
				v.Encrypted = true
				return v, nil
			}
		}
		return nil, usageErrorf("--backup %s: no such backup in the bucket (the table above lists them)", id)
	}
	for _, t := range m.Topics {
		for _, p := range t.Partition {
			row := backupPartitionRow(t.Name, &p)
			row.DeletedIn = t.DeletedIn
			v.Partitions = append(v.Partitions, row)
		}
	}
	if len(ms) == len(backups) { // every manifest read: the unlisted objects are known
		a, err := backup.AuditWith(ctx, b, ms)
		if err != nil {
			return nil, err
		}
		v.Unlisted = len(a.Unlisted)
		for _, u := range a.Unlisted {
			v.UnlistedBytes += u.Size
		}
	}
	return v, nil
}

func backupPartitionRow(topic string, p *manifest.Partition) lsBackupPartition {
	row := lsBackupPartition{Topic: topic, Partition: p.Partition, Lineage: p.Lineage, Objects: len(p.Objects), Records: p.Records,
		StartOffset: p.StartOffset, EndOffset: p.EndOffset, FirstOffset: -1, LastOffset: -1, Gaps: p.Gaps}
	for _, g := range p.Gaps {
		row.GapOffsets += g.To - g.From
	}
	for _, o := range p.Objects {
		if row.FirstOffset < 0 {
			row.FirstOffset = o.FirstOffset
		}
		row.LastOffset = o.LastOffset
		row.StoredBytes += o.Size
		if o.Records == 0 {
			continue
		}
		if row.MinTimestamp == 0 || o.MinTimestamp < row.MinTimestamp {
			row.MinTimestamp = o.MinTimestamp
		}
		row.MaxTimestamp = max(row.MaxTimestamp, o.MaxTimestamp)
	}
	return row
}

func printBackupView(out *printer, v *lsBackupView, bucket string) {
	which := "the newest"
	if !v.Newest {
		which = "not the newest"
	}
	if v.Encrypted {
		out.printf("backup %s (%s) is encrypted: pass --encrypt-key-file to see its partitions\n", v.ID, which)
		return
	}
	out.printf("backup %s (%s): RECORDS leave out transaction markers; BYTES are as stored (compressed, encrypted when the backup is)\n", v.ID, which)
	out.printf("%-32s %9s %12s %14s %14s %10s %-24s %-24s %8s %12s\n", "TOPIC", "PARTITION", "RECORDS", "FIRST-OFFSET", "LAST-OFFSET", "GAPS", "OLDEST RECORD", "NEWEST RECORD", "OBJECTS", "BYTES")
	var gaps []string
	deleted := false
	for _, r := range v.Partitions {
		topic := r.Topic
		if r.DeletedIn != "" {
			topic += " (deleted)"
			deleted = true
		}
		out.printf("%-32s %9d %12d %14s %14s %10d %-24s %-24s %8d %12d\n", topic, r.Partition, r.Records, offsetOrDash(r.FirstOffset), offsetOrDash(r.LastOffset),
			r.GapOffsets, msTime(r.MinTimestamp), msTime(r.MaxTimestamp), r.Objects, r.StoredBytes)
		for _, g := range r.Gaps {
			gaps = append(gaps, fmt.Sprintf("gap: %s/%d offsets %d-%d (%d offsets) are not in the backup: %s", r.Topic, r.Partition, g.From, g.To-1, g.To-g.From, g.Reason))
		}
	}
	if len(gaps) > 0 {
		out.println(strings.Join(gaps, "\n"))
	}
	if deleted {
		out.println("(deleted): the topic was deleted from the source; restore skips it unless --include-deleted")
	}
	if v.Unlisted > 0 {
		out.printf("%d objects (%d bytes) of the bucket are in no manifest: kferry prune %s lists them\n", v.Unlisted, v.UnlistedBytes, bucket)
	}
}

func offsetOrDash(off int64) string {
	if off < 0 {
		return "-"
	}
	return fmt.Sprint(off)
}
