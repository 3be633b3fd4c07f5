package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"gocloud.dev/blob"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
)

// objectReader streams one object's records through its format's decoder.
type objectReader struct {
	info ObjectInfo
	r    *blob.Reader
	src  io.Reader // r, possibly wrapped
	gz   *gzip.Reader
	dec  format.Decoder
}

func openObject(ctx context.Context, b *blob.Bucket, info ObjectInfo, key *seal.Key) (*objectReader, error) {
	return openObjectVia(ctx, b, info, key, nil)
}

// openObjectVia is openObject with the object's raw bytes passed through wrap
// (to hash them, say) before they are decompressed and decoded.
func openObjectVia(ctx context.Context, b *blob.Bucket, info ObjectInfo, key *seal.Key, wrap func(io.Reader) io.Reader) (*objectReader, error) {
	f, err := format.ByExt(info.Ext)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", info.Key, err)
	}
	r, err := b.NewReader(ctx, info.Key, nil)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", info.Key, err)
	}
	or := &objectReader{info: info, r: r, src: r}
	if wrap != nil {
		or.src = wrap(r)
	}
	// Encrypted objects are recognised by the age header, so a bucket may mix
	// them with plain ones (a key added later, Confluent's own objects).
	src, err := seal.OpenMaybe(or.src, key)
	if err != nil {
		_ = r.Close() // reading is over; the open error is the one to report
		return nil, fmt.Errorf("object %s: %w", info.Key, err)
	}
	if info.Gzip {
		if or.gz, err = gzip.NewReader(src); err != nil {
			_ = r.Close() // reading is over; the gzip error is the one to report
			return nil, fmt.Errorf("object %s: not gzip: %w", info.Key, err)
		}
		src = or.gz
	}
	if or.dec, err = f.NewDecoder(src, info.View); err != nil {
		or.Close()
		return nil, fmt.Errorf("object %s: %w", info.Key, err)
	}
	return or, nil
}

// Next fills this object's view of rec; io.EOF at the end.
func (or *objectReader) Next(rec *record.Record) error {
	err := or.dec.Next(rec)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("object %s: %w", or.info.Key, err)
	}
	return err
}

// Close releases the object. Close errors of readers are ignored: nothing is
// lost by them, and what was read was checked as it was decoded.
func (or *objectReader) Close() {
	if or.gz != nil {
		_ = or.gz.Close()
	}
	_ = or.r.Close()
}

// groupReader reads a values object and its sidecars in lock step.
type groupReader struct {
	g     Group
	parts []*objectReader
}

func openGroup(ctx context.Context, b *blob.Bucket, g Group, key *seal.Key) (*groupReader, error) {
	return openGroupVia(ctx, b, g, key, nil)
}

// openGroupVia is openGroup with the values object's raw bytes passed through
// wrap (see openObjectVia).
func openGroupVia(ctx context.Context, b *blob.Bucket, g Group, key *seal.Key, wrap func(io.Reader) io.Reader) (*groupReader, error) {
	gr := &groupReader{g: g}
	for i, info := range []*ObjectInfo{&g.Values, g.Keys, g.Headers} {
		if info == nil {
			continue
		}
		w := wrap
		if i > 0 {
			w = nil
		}
		or, err := openObjectVia(ctx, b, *info, key, w)
		if err != nil {
			gr.Close()
			return nil, err
		}
		gr.parts = append(gr.parts, or)
	}
	return gr, nil
}

// Next fills rec from every object of the group. A sidecar that ends before or
// after the values object is an error naming both objects.
func (gr *groupReader) Next(rec *record.Record) error {
	err := gr.parts[0].Next(rec)
	end := errors.Is(err, io.EOF)
	for _, side := range gr.parts[1:] {
		serr := side.Next(rec)
		sideEnd := errors.Is(serr, io.EOF)
		switch {
		case end && sideEnd:
		case end && serr == nil:
			return fmt.Errorf("object %s has more records than %s", side.info.Key, gr.g.Values.Key)
		case err == nil && sideEnd:
			return fmt.Errorf("object %s has fewer records than %s", side.info.Key, gr.g.Values.Key)
		case serr != nil && !sideEnd:
			return serr
		}
	}
	return err
}

// drainValues reads what is left of the values object's raw bytes (after its
// last record: a trailer, padding), so that a wrap sees every byte.
func (gr *groupReader) drainValues() error {
	if _, err := io.Copy(io.Discard, gr.parts[0].src); err != nil {
		return fmt.Errorf("read %s: %w", gr.g.Values.Key, err)
	}
	return nil
}

func (gr *groupReader) Close() {
	for _, p := range gr.parts {
		p.Close()
	}
}

// Dump streams one object group's records to fn, with offsets counted from the
// group's start offset.
func Dump(ctx context.Context, b *blob.Bucket, g Group, key *seal.Key, fn func(*record.Record) error) error {
	gr, err := openGroup(ctx, b, g, key)
	if err != nil {
		return err
	}
	defer gr.Close()
	for off := g.Start; ; off++ {
		rec := record.Record{Topic: g.Values.Topic, Partition: g.Values.Partition, Offset: off}
		if err := gr.Next(&rec); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if err := fn(&rec); err != nil {
			return err
		}
	}
}
