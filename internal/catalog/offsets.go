package catalog

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gocloud.dev/blob"
)

// ErrOverlap means two objects of a partition hold some of the same records and
// which of them are already imported cannot be told exactly: an object without
// an offsets record (written by the Confluent connector or a kferry before
// offsets records) whose records are counted from its start offset.
var ErrOverlap = errors.New("overlapping objects")

// ErrOffsetsRecord means an object's offsets record does not describe the
// object (it was rewritten by another writer) or does not parse.
var ErrOffsetsRecord = errors.New("offsets record does not match its object")

// OffsetsPrefix is the folder of the offsets records. An offsets record tells
// the exact offset of every record of one JSON or
// bytes object, which the Confluent layout leaves implicit (an object's name
// gives its first offset only; transactions and compaction leave offsets
// without records). kferry's exporter writes one per such object, outside the
// topics folder so that Confluent readers never see it:
//
//	_kferry/offsets/<values object key>/<values object size>-<last offset>.json
//
// The name alone (size and last offset, from a listing) lets import skip
// objects that lie wholly before its progress without reading anything; the
// body lists the offsets as inclusive runs and a checksum of the object, so
// import skips exactly the records it already wrote when objects of exports
// with different rotations overlap. The record is written just before its
// object is completed: an object that is visible has its record, and a record
// left by an export that crashed before completing a rewritten object names
// another size (or fails the checksum) and is not used.
const OffsetsPrefix = "_kferry/offsets/"

// OffsetsVersion is the version of the offsets record body (major.minor);
// readers refuse an unknown major.
const OffsetsVersion = "1.0"

// OffsetsRef is one listed offsets record: the values object it describes
// (by key and size) and that object's last offset.
type OffsetsRef struct {
	Key    string // the record's own key
	Object string // the values object's key
	Size   int64  // the values object's size when the record was written
	Last   int64  // the object's last offset
}

// OffsetsKey is the key of the offsets record of the values object key with
// the given stored size and last offset.
func OffsetsKey(object string, size, last int64) string {
	return fmt.Sprintf("%s%s/%d-%d.json", OffsetsPrefix, object, size, last)
}

// ParseOffsetsKey reads a key written by offsetsKey.
func ParseOffsetsKey(key string) (OffsetsRef, bool) {
	rest, ok := strings.CutPrefix(key, OffsetsPrefix)
	if !ok {
		return OffsetsRef{}, false
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return OffsetsRef{}, false
	}
	name, ok := strings.CutSuffix(rest[i+1:], ".json")
	size, last, ok2 := strings.Cut(name, "-")
	if !ok || !ok2 {
		return OffsetsRef{}, false
	}
	s, err1 := strconv.ParseInt(size, 10, 64)
	l, err2 := strconv.ParseInt(last, 10, 64)
	if err1 != nil || err2 != nil || s < 0 || l < 0 {
		return OffsetsRef{}, false
	}
	return OffsetsRef{Key: key, Object: rest[:i], Size: s, Last: l}, true
}

// ObjectOffsets is the body of an offsets record.
type ObjectOffsets struct {
	FormatVersion string `json:"format_version"`
	Object        string `json:"object"`
	// Size and XXH64 (hex) are the values object's stored bytes (after
	// compression and encryption), as a listing and a reader see them.
	Size    int64  `json:"size"`
	XXH64   string `json:"xxh64"`
	Records int64  `json:"records"`
	// Offsets are the records' offsets as inclusive runs [first, last], in order.
	Offsets [][2]int64 `json:"offsets"`
}

// OffsetRuns collects offsets in increasing order as inclusive runs.
type OffsetRuns [][2]int64

func (r *OffsetRuns) Add(off int64) {
	if n := len(*r); n > 0 && (*r)[n-1][1]+1 == off {
		(*r)[n-1][1] = off
		return
	}
	*r = append(*r, [2]int64{off, off})
}

// Check reports whether the body is one kferry can use for the object.
func (oo *ObjectOffsets) Check(ref OffsetsRef, start int64) error {
	major, _, _ := strings.Cut(oo.FormatVersion, ".")
	if want, _, _ := strings.Cut(OffsetsVersion, "."); major != want {
		return fmt.Errorf("%w: %s has format version %q; this kferry reads %s.x", ErrOffsetsRecord, ref.Key, oo.FormatVersion, want)
	}
	if oo.Object != ref.Object || oo.Size != ref.Size {
		return fmt.Errorf("%w: %s describes %s of %d bytes", ErrOffsetsRecord, ref.Key, oo.Object, oo.Size)
	}
	if _, err := hex.DecodeString(oo.XXH64); err != nil || len(oo.XXH64) != 16 {
		return fmt.Errorf("%w: %s: bad checksum %q", ErrOffsetsRecord, ref.Key, oo.XXH64)
	}
	var n int64
	prev := start - 1
	for _, r := range oo.Offsets {
		if r[0] <= prev || r[1] < r[0] {
			return fmt.Errorf("%w: %s: offsets not increasing at %v", ErrOffsetsRecord, ref.Key, r)
		}
		n += r[1] - r[0] + 1
		prev = r[1]
	}
	switch {
	case len(oo.Offsets) == 0 || oo.Offsets[0][0] != start:
		return fmt.Errorf("%w: %s does not start at %d, the object's start offset", ErrOffsetsRecord, ref.Key, start)
	case prev != ref.Last:
		return fmt.Errorf("%w: %s ends at %d, its name says %d", ErrOffsetsRecord, ref.Key, prev, ref.Last)
	case n != oo.Records:
		return fmt.Errorf("%w: %s lists %d offsets for %d records", ErrOffsetsRecord, ref.Key, n, oo.Records)
	}
	return nil
}

// LoadOffsets reads and checks the offsets record ref of an object starting at start.
func LoadOffsets(ctx context.Context, b *blob.Bucket, ref OffsetsRef, start int64) (*ObjectOffsets, error) {
	body, err := b.ReadAll(ctx, ref.Key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ref.Key, err)
	}
	oo := &ObjectOffsets{}
	if err := json.Unmarshal(body, oo); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrOffsetsRecord, ref.Key, err)
	}
	if err := oo.Check(ref, start); err != nil {
		return nil, err
	}
	return oo, nil
}

// OffsetCursor hands out an offsets record's offsets one by one.
type OffsetCursor struct {
	runs [][2]int64
	next int64
}

func NewOffsetCursor(runs [][2]int64) *OffsetCursor {
	c := &OffsetCursor{runs: runs}
	if len(runs) > 0 {
		c.next = runs[0][0]
	}
	return c
}

// Take returns the next offset, false when none is left.
func (c *OffsetCursor) Take() (int64, bool) {
	if len(c.runs) == 0 {
		return 0, false
	}
	off := c.next
	if off == c.runs[0][1] {
		c.runs = c.runs[1:]
		if len(c.runs) > 0 {
			c.next = c.runs[0][0]
		}
	} else {
		c.next++
	}
	return off, true
}

// Done reports whether every offset was taken.
func (c *OffsetCursor) Done() bool { return len(c.runs) == 0 }
