package schemareg

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/avrofmt"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// Translator rewrites the schema ids of keys and values in the Confluent wire
// format from the source registry's ids to the target's: the schema the
// source knows by the id is registered in the target under the subject of the
// record's (renamed) topic (Target.Subject) and the 4 id bytes are replaced;
// payload and Protobuf message indexes stay.
type Translator struct {
	Source Source
	Target *Client
	// Hint says how to copy records whose bytes only look like the wire
	// format (in the error that refuses them).
	Hint string

	mu  sync.Mutex
	ids map[translation]int
	// checks holds a check of the payloads of each source id.
	checks map[int]func(payload []byte) error
}

type translation struct {
	subject string
	id      int
}

// Source is where a translator reads the schemas of the ids it meets: the
// source cluster's registry (*Client) or the schemas a backup stored (Stored).
type Source interface {
	SchemaByID(ctx context.Context, id int) (avrofmt.Schema, error)
}

// NewTranslator returns a translator from src's ids to dst's.
func NewTranslator(src Source, dst *Client) *Translator {
	return &Translator{Source: src, Target: dst, ids: map[translation]int{}, checks: map[int]func([]byte) error{}}
}

// ID returns the target's id of the source's schema id for topic's view.
func (tr *Translator) ID(ctx context.Context, topic string, view layout.View, id int) (int, error) {
	k := translation{tr.Target.Subject(topic, view), id}
	tr.mu.Lock()
	to, ok := tr.ids[k]
	tr.mu.Unlock()
	if ok {
		return to, nil
	}
	s, err := tr.Source.SchemaByID(ctx, id)
	if err != nil {
		return 0, err
	}
	if s.References, err = tr.targetRefs(ctx, s.References, 0); err != nil {
		return 0, err
	}
	if to, err = tr.Target.RegisterSchema(ctx, k.subject, s); err != nil {
		return 0, err
	}
	tr.mu.Lock()
	tr.ids[k] = to
	tr.mu.Unlock()
	return to, nil
}

// keySchema returns an error when the source registry knows id only under
// value subjects (<topic>-value): a key whose bytes merely start like the
// wire format and then happen to decode under a value schema is not
// rewritten. Sources that know no subjects (stored schemas) skip the check.
func (tr *Translator) keySchema(ctx context.Context, id int) error {
	src, ok := tr.Source.(interface {
		SubjectsByID(ctx context.Context, id int) ([]string, error)
	})
	if !ok {
		return nil
	}
	subjects, err := src.SubjectsByID(ctx, id)
	if err != nil || len(subjects) == 0 {
		return nil // an unknown id is reported by the schema lookup that follows
	}
	for _, s := range subjects {
		if !strings.HasSuffix(s, "-value") {
			return nil
		}
	}
	hint := ""
	if tr.Hint != "" {
		hint = " (" + tr.Hint + ")"
	}
	return fmt.Errorf("%w%s: the source registry knows schema id %d only for values (%s), not for keys", errValueID, hint, id, strings.Join(subjects, ", "))
}

// RefSource is a Source that also resolves schema references: the source's
// registry (by subject and version), or the schemas a backup stored (by the
// id it kept with each reference).
type RefSource interface {
	SchemaByReference(ctx context.Context, ref avrofmt.Reference) (avrofmt.Schema, int, error)
}

// maxRefDepth bounds chains of references.
const maxRefDepth = 32

// refSchema returns the schema a reference names, from the source.
func (tr *Translator) refSchema(ctx context.Context, ref avrofmt.Reference, depth int) (avrofmt.Schema, error) {
	if depth > maxRefDepth {
		return avrofmt.Schema{}, fmt.Errorf("schema references nest deeper than %d", maxRefDepth)
	}
	rs, ok := tr.Source.(RefSource)
	if !ok {
		return avrofmt.Schema{}, fmt.Errorf("the schema references %s version %d, which the source cannot resolve", ref.Subject, ref.Version)
	}
	s, _, err := rs.SchemaByReference(ctx, ref)
	if err != nil {
		return avrofmt.Schema{}, fmt.Errorf("reference %s (subject %s version %d): %w", ref.Name, ref.Subject, ref.Version, err)
	}
	return s, nil
}

// targetRefs registers the schemas refs name in the target, under the same
// subjects (theirs first), and returns the references with the target's
// versions.
func (tr *Translator) targetRefs(ctx context.Context, refs []avrofmt.Reference, depth int) ([]avrofmt.Reference, error) {
	var out []avrofmt.Reference
	for _, ref := range refs {
		s, err := tr.refSchema(ctx, ref, depth)
		if err != nil {
			return nil, err
		}
		if s.References, err = tr.targetRefs(ctx, s.References, depth+1); err != nil {
			return nil, err
		}
		_, v, err := tr.Target.RegisterSchemaVersion(ctx, ref.Subject, s)
		if err != nil {
			return nil, fmt.Errorf("reference %s: %w", ref.Name, err)
		}
		out = append(out, avrofmt.Reference{Name: ref.Name, Subject: ref.Subject, Version: v})
	}
	return out, nil
}

// refTexts returns the texts of the schemas refs name, theirs first (the
// order an Avro parser needs).
func (tr *Translator) refTexts(ctx context.Context, refs []avrofmt.Reference, depth int) ([]string, error) {
	var out []string
	for _, ref := range refs {
		s, err := tr.refSchema(ctx, ref, depth)
		if err != nil {
			return nil, err
		}
		deps, err := tr.refTexts(ctx, s.References, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(append(out, deps...), s.Text)
	}
	return out, nil
}

// check returns an error unless payload is a datum of the source's schema
// id: bytes that only start like the wire format, such as a big-endian long
// key, are never rewritten (nor their "schema" registered in the target).
// Avro payloads are decoded with the schema; Protobuf ones must start with
// message indexes that fit; JSON Schema payloads must be JSON.
func (tr *Translator) check(ctx context.Context, view layout.View, id int, payload []byte) error {
	tr.mu.Lock()
	c, ok := tr.checks[id]
	tr.mu.Unlock()
	if !ok {
		s, err := tr.Source.SchemaByID(ctx, id)
		if err != nil {
			return err
		}
		var refs []string
		if (s.Type == "" || s.Type == "AVRO") && len(s.References) > 0 {
			if refs, err = tr.refTexts(ctx, s.References, 0); err != nil {
				return err
			}
		}
		if c, err = payloadCheck(s, refs); err != nil {
			return err
		}
		tr.mu.Lock()
		tr.checks[id] = c
		tr.mu.Unlock()
	}
	if err := c(payload); err != nil {
		if tr.Hint != "" {
			return fmt.Errorf("%w (%s): %w", errNotDatum, tr.Hint, err)
		}
		return fmt.Errorf("%w: %w", errNotDatum, err)
	}
	if view == layout.ViewKeys {
		return tr.keySchema(ctx, id)
	}
	return nil
}

// payloadCheck is the check of the payloads of schema s (refs: the texts of
// the Avro schemas it references).
func payloadCheck(s avrofmt.Schema, refs []string) (func([]byte) error, error) {
	switch s.Type {
	case "", "AVRO":
		c, err := avrofmt.NewCheckerWith(refs, s.Text)
		if err != nil {
			return nil, fmt.Errorf("the source's schema does not parse: %w", err)
		}
		return c.Check, nil
	case "PROTOBUF":
		return func(p []byte) error {
			idx, _, err := avrofmt.MessageIndexes(p)
			if err != nil {
				return err
			}
			for _, i := range idx {
				if i < 0 || i > 10000 {
					return fmt.Errorf("message index %d", i)
				}
			}
			return nil
		}, nil
	case "JSON":
		return func(p []byte) error {
			if !json.Valid(p) {
				return errors.New("not JSON")
			}
			return nil
		}, nil
	}
	return func([]byte) error { return nil }, nil
}

var errNotDatum = errors.New("starts like the wire format but is not a datum of that schema")

// errValueID refuses a key that starts like the wire format with the id of a
// value schema.
var errValueID = errors.New("a key that starts like the wire format with the id of a value schema is not rewritten")

// rewrite translates b in place if it is in the wire format (magic byte 0);
// other bytes (plain keys, JSON values) are left alone.
func (tr *Translator) rewrite(ctx context.Context, topic string, view layout.View, b []byte) error {
	what := "value"
	if view == layout.ViewKeys {
		what = "key"
	}
	w, err := avrofmt.ParseWire(b)
	if errors.Is(err, avrofmt.ErrGUID) {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err != nil || w.ID == 0 {
		return nil // registries never issue id 0: a big-endian number, not the wire format
	}
	if err := tr.check(ctx, view, w.ID, w.Payload); err != nil {
		return fmt.Errorf("%s schema id %d: %w", what, w.ID, err)
	}
	to, err := tr.ID(ctx, topic, view, w.ID)
	if err != nil {
		return fmt.Errorf("%s schema id %d: %w", what, w.ID, err)
	}
	binary.BigEndian.PutUint32(b[1:5], uint32(to)) //nolint:gosec // registry ids are int32 on the wire
	return nil
}

// Formats returns formats that read as fs do and then translate the ids of
// each record's key and value (format.WithFormats hands them down).
func (tr *Translator) Formats(ctx context.Context, fs ...format.Format) []format.Format {
	out := make([]format.Format, len(fs))
	for i, f := range fs {
		out[i] = &translating{Format: f, tr: tr, ctx: ctx}
	}
	return out
}

// translating is a format whose decoders translate schema ids.
type translating struct {
	format.Format
	tr  *Translator
	ctx context.Context
}

var _ format.ObjectDecoders = (*translating)(nil)

// KeepsOffsets forwards the wrapped format's.
func (t *translating) KeepsOffsets() bool { return format.KeepsOffsets(t.Format) }

func (t *translating) NewObjectDecoder(r io.Reader, obj layout.Object) (format.Decoder, error) {
	dec, err := format.NewObjectDecoder(t.Format, r, obj)
	if err != nil {
		return nil, err
	}
	return &translatingDecoder{dec: dec, t: t, obj: obj}, nil
}

type translatingDecoder struct {
	dec format.Decoder
	t   *translating
	obj layout.Object
	n   int
}

// Next reads a record and translates the ids of what the view filled.
func (d *translatingDecoder) Next(rec *record.Record) error {
	if err := d.dec.Next(rec); err != nil {
		return err
	}
	d.n++
	topic := d.obj.Topic
	var err error
	switch d.obj.View {
	case layout.ViewValues:
		if err = d.t.tr.rewrite(d.t.ctx, topic, layout.ViewValues, rec.Value); err == nil && d.t.KeepsOffsets() {
			err = d.t.tr.rewrite(d.t.ctx, topic, layout.ViewKeys, rec.Key) // native records carry their keys
		}
	case layout.ViewKeys:
		err = d.t.tr.rewrite(d.t.ctx, topic, layout.ViewKeys, rec.Key)
	}
	if err != nil {
		// The import names topic, partition and object around this.
		where := fmt.Sprintf("record %d", d.n)
		if rec.Offset >= 0 && d.t.KeepsOffsets() {
			where = fmt.Sprintf("offset %d", rec.Offset)
		}
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}
