package format

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"

	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// ErrUnsupported is returned by an Encoder for a record the format cannot hold
// (a non-JSON value in json, a null key, a value containing the separator in
// bytes). The message names the field and suggests the format that can carry it.
var ErrUnsupported = errors.New("record not representable in this format")

// ErrMalformed is returned by a Decoder for object content that does not parse.
var ErrMalformed = errors.New("malformed object")

// ErrUnknownFormat is returned by Lookup and ByExt for names nobody registered.
var ErrUnknownFormat = errors.New("unknown format")

// Format is one object format. A Format is stateless and safe for concurrent use;
// its Encoders and Decoders are not.
type Format interface {
	// Name is the value of --format that selects it ("json", "bytes").
	Name() string
	// Ext is the extension of its objects without view and compression (".json").
	Ext() string
	// NewEncoder returns an encoder that writes the view's part of each record to w.
	// The caller owns w and closes it after the encoder's last Encode.
	NewEncoder(w io.Writer, view layout.View) (Encoder, error)
	// NewDecoder returns a decoder reading one object of the given view from r.
	NewDecoder(r io.Reader, view layout.View) (Decoder, error)
}

// Encoder writes records, one per call, in the order given.
type Encoder interface {
	// Encode writes the encoder's view of rec (its value, key or headers). On an
	// error wrapping ErrUnsupported nothing was written for rec.
	Encode(rec *record.Record) error
}

// Closer is implemented by encoders that must write a trailer (the last block
// of a container format) after their last record. The caller calls Close before
// it closes the underlying writer. Decoders that hold a resource (parquet's
// spool file) implement it too; readers call Close when they are done.
type Closer interface {
	Close() error
}

// ExtraExts is implemented by formats whose objects may end in several
// extensions (parquet: one per compression codec); Register makes ByExt find
// the format by each.
type ExtraExts interface {
	Exts() []string
}

// exts returns the extensions of f.
func exts(f Format) []string {
	if x, ok := f.(ExtraExts); ok {
		return x.Exts()
	}
	return []string{f.Ext()}
}

// OffsetKeeper is implemented by formats whose objects carry every record's
// offset: their Decoder's Next sets rec.Offset. Readers of the other formats
// know only an object's start offset (from its name), not the offsets of the
// records after the first, which need not be contiguous.
type OffsetKeeper interface {
	KeepsOffsets() bool
}

// KeepsOffsets reports whether f's objects carry every record's offset.
func KeepsOffsets(f Format) bool {
	k, ok := f.(OffsetKeeper)
	return ok && k.KeepsOffsets()
}

// Decoder reads the records of one object view in order.
type Decoder interface {
	// Next fills the decoder's view of rec (Value, Key or Headers) and leaves the
	// other fields alone. It returns io.EOF after the last record, and errors
	// wrapping ErrMalformed that name the line or byte position. Slices in rec
	// stay valid after the next call.
	Next(rec *record.Record) error
}

var (
	mu     sync.RWMutex
	byName = map[string]Format{}
	byExt  = map[string]Format{}
)

// Register makes a format available to Lookup and ByExt. It panics on a duplicate
// name or extension, a programming error caught at start-up.
func Register(f Format) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := byName[f.Name()]; dup {
		panic("format: duplicate name " + f.Name())
	}
	for _, ext := range exts(f) {
		if _, dup := byExt[ext]; dup {
			panic("format: duplicate extension " + ext)
		}
	}
	byName[f.Name()] = f
	for _, ext := range exts(f) {
		byExt[ext] = f
	}
}

// Lookup returns the format registered under name.
func Lookup(name string) (Format, error) {
	mu.RLock()
	defer mu.RUnlock()
	if f, ok := byName[name]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownFormat, name, namesLocked())
}

// ByExt returns the format whose objects end in ext (".json").
func ByExt(ext string) (Format, error) {
	mu.RLock()
	defer mu.RUnlock()
	if f, ok := byExt[ext]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("%w for extension %q (known: %v)", ErrUnknownFormat, ext, namesLocked())
}

// Exts lists the extensions of the registered formats, sorted.
func Exts() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(byExt))
	for e := range byExt {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

// Names lists the registered format names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Fitter is implemented by encoders whose objects hold one kind of record
// only (an Avro object has one writer schema). Fits reports whether rec may
// join the records encoded so far; false means the writer must close the
// object and start a new one for rec. An error says rec cannot be encoded at
// all (it names the record's offset and why).
type Fitter interface {
	Fits(rec *record.Record) (bool, error)
}

// ObjectDecoders is implemented by formats whose decoding depends on which
// object is read: the avro format registers an object's schema under a subject
// named after its topic. Readers call NewObjectDecoder instead of NewDecoder.
type ObjectDecoders interface {
	NewObjectDecoder(r io.Reader, obj layout.Object) (Decoder, error)
}

// NewObjectDecoder returns f's decoder for the object obj read from r.
func NewObjectDecoder(f Format, r io.Reader, obj layout.Object) (Decoder, error) {
	if od, ok := f.(ObjectDecoders); ok {
		return od.NewObjectDecoder(r, obj)
	}
	return f.NewDecoder(r, obj.View)
}

type runFormatsKey struct{}

// WithFormats returns a context in which LookupFor and ByExtFor find fs before
// the registered formats. A format bound to a run's settings (avro with the
// run's Schema Registry) travels this way from the command that configured it
// to the object readers and writers deep below, which look formats up by the
// name or extension they meet.
func WithFormats(ctx context.Context, fs ...Format) context.Context {
	prev, _ := ctx.Value(runFormatsKey{}).([]Format)
	return context.WithValue(ctx, runFormatsKey{}, append(append([]Format(nil), fs...), prev...))
}

// LookupFor is Lookup, preferring the formats of ctx (WithFormats).
func LookupFor(ctx context.Context, name string) (Format, error) {
	fs, _ := ctx.Value(runFormatsKey{}).([]Format)
	for _, f := range fs {
		if f.Name() == name {
			return f, nil
		}
	}
	return Lookup(name)
}

// ByExtFor is ByExt, preferring the formats of ctx (WithFormats).
func ByExtFor(ctx context.Context, ext string) (Format, error) {
	fs, _ := ctx.Value(runFormatsKey{}).([]Format)
	for _, f := range fs {
		if slices.Contains(exts(f), ext) {
			return f, nil
		}
	}
	return ByExt(ext)
}
