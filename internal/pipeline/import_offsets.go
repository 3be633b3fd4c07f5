package pipeline

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/cespare/xxhash/v2"
	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/objset"
	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/record"
)

// progressOrigin says what an import's progress on a partition rests on: the
// values object whose import committed it, and whether that object's offsets
// were exact (kept by the format, listed by an offsets record) or counted from
// its start offset (start + index: where the source had offset gaps, the true
// end of the object lies further than the progress says). The zero value is a
// progress committed by a kferry that did not record its origin.
type progressOrigin struct {
	key     string
	counted bool
}

// importMetaPrefix starts the commit metadata of an import's progress written
// by a per-partition writer (import --follow, migrate, and one-shot import of
// an older kferry); slotMetaPrefix by a slot writer (one-shot import, see
// TxnSlot). A run tells from it whether per-partition writers may have left a
// transaction open (LegacyTxnIDs).
const (
	importMetaPrefix = "kferry-import/1 "
	slotMetaPrefix   = "kferry-import/2 "
)

func (o progressOrigin) metadata() string { return importMetaPrefix + o.words() }

func (o progressOrigin) slotMetadata() string { return slotMetaPrefix + o.words() }

func (o progressOrigin) words() string {
	kind := "exact"
	if o.counted {
		kind = "counted"
	}
	return kind + " " + o.key
}

// parseOrigin reads the commit metadata metadata() or slotMetadata() wrote;
// anything else is an unknown origin.
func parseOrigin(meta string) progressOrigin {
	rest, ok := strings.CutPrefix(meta, importMetaPrefix)
	if !ok {
		rest, ok = strings.CutPrefix(meta, slotMetaPrefix)
	}
	if !ok {
		return progressOrigin{}
	}
	kind, key, _ := strings.Cut(rest, " ")
	switch kind {
	case "exact":
		return progressOrigin{key: key}
	case "counted":
		return progressOrigin{key: key, counted: true}
	}
	return progressOrigin{}
}

// admits reports whether an object that starts before the progress can be
// imported from it exactly: its records below the progress are the ones
// already imported. That holds for an object with exact offsets when the
// progress is exact too, and for a counted object when the progress was
// counted from that same object (a rerun, or the object grown by a rewrite).
// A progress of unknown origin (an older kferry) is trusted, as before.
func (o progressOrigin) admits(key string, exact bool) bool {
	switch {
	case o.key == "":
		return true
	case exact:
		return !o.counted
	default:
		return o.counted && o.key == key
	}
}

// before reports whether every record of g lies below the progress, so g is
// skipped unread: known from its offsets record's last offset, or else
// because the next object starts at or below the progress (objects of a
// partition without offsets records are taken not to overlap unless their
// counts show it; see importObject).
func (pi *partitionImport) before(g catalog.Group, succ *catalog.Group) bool {
	if pi.next < 0 {
		return false
	}
	if ref := g.OffsetsRecord(); ref != nil {
		return ref.Last < pi.next
	}
	return succ != nil && succ.Start <= pi.next
}

// objectOffsetSource gives the source offset of each record of one object.
type objectOffsetSource struct {
	// exact: offsets are known (kept by the format, listed by an offsets
	// record, or contiguous as ImportOptions.ContiguousOffsets states).
	exact bool
	ref   *catalog.OffsetsRef
	oo    *catalog.ObjectOffsets
	cur   *catalog.OffsetCursor
	xx    *xxhash.Digest
}

// offsetsOf finds how the offsets of g's records are known.
func (pi *partitionImport) offsetsOf(ctx context.Context, b *blob.Bucket, g catalog.Group) (*objectOffsetSource, error) {
	f, err := format.ByExt(g.Values.Ext)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", g.Values.Key, err)
	}
	if format.KeepsOffsets(f) {
		return &objectOffsetSource{exact: true}, nil
	}
	if ref := g.OffsetsRecord(); ref != nil {
		oo, err := catalog.LoadOffsets(ctx, b, *ref, g.Start)
		if err != nil {
			return nil, err
		}
		return &objectOffsetSource{exact: true, ref: ref, oo: oo, cur: catalog.NewOffsetCursor(oo.Offsets), xx: xxhash.New()}, nil
	}
	return &objectOffsetSource{exact: pi.o.ContiguousOffsets}, nil
}

// wrap hashes the values object's bytes when an offsets record is checked.
func (s *objectOffsetSource) wrap() func(io.Reader) io.Reader {
	if s.xx == nil {
		return nil
	}
	return func(r io.Reader) io.Reader { return io.TeeReader(r, s.xx) }
}

// offset returns the source offset of rec, the record after offset end-1.
func (s *objectOffsetSource) offset(rec *record.Record, end int64) (int64, error) {
	switch {
	case s.cur != nil:
		off, ok := s.cur.Take()
		if !ok {
			return 0, fmt.Errorf("%w: %s holds more than the %d records %s lists", catalog.ErrOffsetsRecord, s.oo.Object, s.oo.Records, s.ref.Key)
		}
		return off, nil
	case rec.Offset >= end:
		return rec.Offset, nil
	}
	return end, nil // counted, or a kept offset out of order (kept in order)
}

// finish checks, after the object's last record, that the offsets record
// described exactly this object: its record count and checksum.
func (s *objectOffsetSource) finish(gr *objset.DrainValues) error {
	if s.cur == nil {
		return nil
	}
	if !s.cur.Done() {
		return fmt.Errorf("%w: %s holds fewer than the %d records %s lists", catalog.ErrOffsetsRecord, s.oo.Object, s.oo.Records, s.ref.Key)
	}
	if err := gr.DrainValues(); err != nil {
		return err
	}
	var sum [8]byte
	if got := hex.EncodeToString(s.xx.Sum(sum[:0])); !strings.EqualFold(got, s.oo.XXH64) {
		return fmt.Errorf("%w: %s has XXH64 %s, %s says %s (the object was rewritten by another writer; delete the offsets record to import it as an object without one)", catalog.ErrOffsetsRecord, s.oo.Object, got, s.ref.Key, s.oo.XXH64)
	}
	return nil
}

// overlapError refuses g, which starts below the progress but cannot be
// imported from it exactly (see progressOrigin.admits).
func (pi *partitionImport) overlapError(g catalog.Group, exact bool) error {
	counted := g.Values.Key
	if exact {
		counted = pi.origin.key
	}
	return pi.overlapMessage(pi.origin.key, g.Values.Key, counted)
}

// folderOf is the folder part of an object key.
func folderOf(key string) string { return path.Dir(key) }

// overlapPair refuses g, counted, whose records reach past the start of the
// next object succ.
func (pi *partitionImport) overlapPair(g, succ catalog.Group) error {
	return pi.overlapMessage(g.Values.Key, succ.Values.Key, g.Values.Key)
}

func (pi *partitionImport) overlapMessage(a, b, counted string) error {
	t, p := pi.t.src.Topic, pi.t.src.Partition
	if folderOf(a) != folderOf(b) {
		// A field or time partitioner's sink keeps an object open per folder:
		// its objects interleave offsets, and neither covers the other.
		return fmt.Errorf("%w: %s and %s, in different folders, hold interleaved records of %s/%d (a Confluent sink with a field or time partitioner keeps one object open per folder), and %s has no offsets record, so the records' offsets cannot be told; reading them as consecutive would drop or misplace records: export the topic again with kferry, which starts a new object at each change of folder",
			catalog.ErrOverlap, a, b, t, p, counted)
	}
	return fmt.Errorf("%w: %s and %s hold some of the same records of %s/%d, and %s has no offsets record (written by the Confluent connector or an older kferry), so which of its records are new cannot be told exactly; delete whichever of the two the other objects cover (kferry cat shows their records), export again into an empty prefix (kferry writes offsets records), or pass --contiguous-offsets if %s/%d never had transactions or compaction",
		catalog.ErrOverlap, a, b, t, p, counted, t, p)
}
