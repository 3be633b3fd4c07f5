package parquetfmt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
)

// Plain JSON values have no registry schema: they are written with a given
// Avro schema (--value-schema FILE) or one inferred from each object's first
// record, and read back as JSON. The file says which in its metadata.
const (
	metaValueEncoding = "kferry.value.encoding" // "json" for JSON values
	metaInferred      = "kferry.value.schema"   // "inferred" or "given"
)

var errJSON = errors.New("JSON value does not fit the schema")

// jvalue is a decoded JSON value that keeps the order of object keys:
// nil, bool, json.Number, string, []any or *jobject.
type jobject struct {
	keys []string
	vals []any
}

// parseJSON decodes one JSON value, keeping key order and numbers' text;
// duplicate keys are refused (which one counts is up to each reader).
func parseJSON(b []byte) (any, error) {
	// encoding/json would turn these into U+FFFD without a word.
	if !utf8.Valid(b) {
		return nil, errors.New("not UTF-8 text")
	}
	if err := checkSurrogates(b); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := parseValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

// checkSurrogates refuses \u escapes of UTF-16 surrogates that do not
// pair up (a high one, then a low one): no UTF-8 text holds them.
func checkSurrogates(b []byte) error {
	inString, pendingHigh := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch {
		case c == '"':
			inString = false
		case c == '\\' && i+1 < len(b) && b[i+1] == 'u' && i+5 < len(b):
			r, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
			if err != nil {
				return fmt.Errorf("bad escape at byte %d", i)
			}
			high, low := r >= 0xD800 && r <= 0xDBFF, r >= 0xDC00 && r <= 0xDFFF
			if pendingHigh != low {
				return fmt.Errorf("a lone UTF-16 surrogate escape at byte %d", i)
			}
			pendingHigh = high
			i += 5
			continue
		case c == '\\':
			i++
		}
		if pendingHigh {
			return fmt.Errorf("a lone UTF-16 surrogate escape before byte %d", i)
		}
	}
	if pendingHigh {
		return errors.New("a lone UTF-16 surrogate escape at the end")
	}
	return nil
}

func parseValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nests deeper than %d levels", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &jobject{}
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := k.(string)
				if seen[key] {
					return nil, fmt.Errorf("key %q appears twice", key)
				}
				seen[key] = true
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				o.keys, o.vals = append(o.keys, key), append(o.vals, v)
			}
			_, err := dec.Token()
			return o, err
		case '[':
			a := []any{}
			for dec.More() {
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := dec.Token()
			return a, err
		}
	}
	return tok, nil
}

var avroName = regexp.MustCompile(`\A[A-Za-z_][A-Za-z0-9_]*\z`)

// inferSchema derives an Avro record schema from a JSON object: every field
// optional (["null", T]), integers long, other numbers double, objects
// records, arrays of the first element's type; null and empty arrays hold
// strings and {} is a map of strings. Records that do not fit the schema
// start a new object with a schema of their own.
func inferSchema(v any) (string, error) {
	o, ok := v.(*jobject)
	if !ok {
		return "", errors.New("the value is not a JSON object (Parquet rows are records)")
	}
	names := map[string]bool{}
	t, err := inferRecord(o, "Value", names)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(t)
	return string(b), err
}

// The inferred schema's JSON, in the order Avro's own writers use.
type (
	recordJSON struct {
		Type      string      `json:"type"`
		Name      string      `json:"name"`
		Namespace string      `json:"namespace"`
		Fields    []fieldJSON `json:"fields"`
	}
	fieldJSON struct {
		Name    string `json:"name"`
		Type    any    `json:"type"`
		Default any    `json:"default"`
	}
	arrayJSON struct {
		Type  string `json:"type"`
		Items any    `json:"items"`
	}
	mapJSON struct {
		Type   string `json:"type"`
		Values any    `json:"values"`
	}
)

func inferRecord(o *jobject, name string, names map[string]bool) (any, error) {
	if len(o.keys) == 0 {
		return mapJSON{"map", []any{"null", "string"}}, nil
	}
	for names[name] {
		name += "_"
	}
	names[name] = true
	fields := make([]fieldJSON, 0, len(o.keys))
	for i, k := range o.keys {
		if !avroName.MatchString(k) {
			return nil, fmt.Errorf("key %q is not an Avro field name ([A-Za-z_][A-Za-z0-9_]*)", k)
		}
		t, err := inferType(o.vals[i], name+"_"+k, names)
		if err != nil {
			return nil, err
		}
		if u, ok := t.([]any); !ok || len(u) != 2 || u[0] != "null" {
			t = []any{"null", t}
		}
		fields = append(fields, fieldJSON{Name: k, Type: t})
	}
	return recordJSON{"record", name, "kferry.inferred", fields}, nil
}

func inferType(v any, name string, names map[string]bool) (any, error) {
	switch t := v.(type) {
	case nil:
		return []any{"null", "string"}, nil
	case bool:
		return "boolean", nil
	case json.Number:
		if _, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return "long", nil
		}
		if isInteger(string(t)) {
			return nil, fmt.Errorf("integer %s does not fit a long", t)
		}
		if _, ok := exactFloat(string(t), 64); !ok {
			return nil, fmt.Errorf("number %s does not fit a double exactly", t)
		}
		return "double", nil
	case string:
		return "string", nil
	case []any:
		if len(t) == 0 {
			return arrayJSON{"array", []any{"null", "string"}}, nil
		}
		return inferItems(t, name, names)
	case *jobject:
		return inferRecord(t, name, names)
	}
	return nil, fmt.Errorf("unexpected JSON token %v", v)
}

// inferItems types an array from its items: numbers are long unless one is
// not an integer (double), a null among them makes the items optional;
// other items take the first non-null item's type.
func inferItems(items []any, name string, names map[string]bool) (any, error) {
	var first any
	nulls, doubles := false, false
	for _, it := range items {
		switch n := it.(type) {
		case nil:
			nulls = true
			continue
		case json.Number:
			if !isInteger(string(n)) {
				doubles = true
			}
		}
		if first == nil {
			first = it
		}
	}
	if first == nil {
		return arrayJSON{"array", []any{"null", "string"}}, nil
	}
	t, err := inferType(first, name, names)
	if err != nil {
		return nil, err
	}
	if t == "long" && doubles {
		t = "double"
	}
	if u, ok := t.([]any); nulls && (!ok || len(u) != 2 || u[0] != "null") {
		t = []any{"null", t}
	}
	return arrayJSON{"array", t}, nil
}

func isInteger(s string) bool { return !strings.ContainsAny(s, ".eE") }

// jsonEncoder encodes JSON values as Avro datums of a schema; exact: a JSON
// object must have exactly the record's fields (a missing optional field
// only when allowMissing), so that reading the datum back gives the same
// JSON value.
type jsonEncoder struct {
	allowMissing bool
}

func (e jsonEncoder) encode(dst []byte, s avro.Schema, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nests deeper than %d levels", errJSON, maxDepth)
	}
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	switch t := s.(type) {
	case *avro.UnionSchema:
		for i, branch := range t.Types() {
			if b, err := e.encode(binary.AppendVarint(dst, int64(i)), branch, v, depth+1); err == nil {
				return b, nil
			}
		}
		return nil, fmt.Errorf("%w: %s fits no branch of %s", errJSON, describe(v), t.String())
	case *avro.RecordSchema:
		return e.record(dst, t, v, depth)
	case *avro.ArraySchema:
		a, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%w: %s where an array is expected", errJSON, describe(v))
		}
		if len(a) > 0 {
			dst = binary.AppendVarint(dst, int64(len(a)))
			for i, x := range a {
				var err error
				if dst, err = e.encode(dst, t.Items(), x, depth+1); err != nil {
					return nil, fmt.Errorf("item %d: %w", i, err)
				}
			}
		}
		return binary.AppendVarint(dst, 0), nil
	case *avro.MapSchema:
		o, ok := v.(*jobject)
		if !ok {
			return nil, fmt.Errorf("%w: %s where a map is expected", errJSON, describe(v))
		}
		if len(o.keys) > 0 {
			dst = binary.AppendVarint(dst, int64(len(o.keys)))
			for i, k := range o.keys {
				dst = appendString(dst, k)
				var err error
				if dst, err = e.encode(dst, t.Values(), o.vals[i], depth+1); err != nil {
					return nil, fmt.Errorf("key %q: %w", k, err)
				}
			}
		}
		return binary.AppendVarint(dst, 0), nil
	case *avro.EnumSchema:
		str, ok := v.(string)
		if ok {
			for i, sym := range t.Symbols() {
				if sym == str {
					return binary.AppendVarint(dst, int64(i)), nil
				}
			}
		}
		return nil, fmt.Errorf("%w: %s is not a symbol of enum %s", errJSON, describe(v), t.FullName())
	}
	return e.primitive(dst, s.Type(), v)
}

// record encodes a JSON object as a record: every field (a missing optional
// one only when allowMissing) and no other key.
func (e jsonEncoder) record(dst []byte, t *avro.RecordSchema, v any, depth int) ([]byte, error) {
	o, ok := v.(*jobject)
	if !ok {
		return nil, fmt.Errorf("%w: %s where record %s is expected", errJSON, describe(v), t.FullName())
	}
	used := 0
	for i, f := range t.Fields() {
		if !e.allowMissing && (i >= len(o.keys) || o.keys[i] != f.Name()) {
			// Inferred schemas keep key order: another order is another shape.
			return nil, fmt.Errorf("%w: keys not in the order of the fields of %s", errJSON, t.FullName())
		}
		fv, found := o.get(f.Name())
		if found {
			used++
		} else if !e.allowMissing || !nullable(f.Type()) || (f.HasDefault() && f.Default() != nil) {
			return nil, fmt.Errorf("%w: field %q is missing (only an optional field without a default other than null may be)", errJSON, f.Name())
		}
		var err error
		if dst, err = e.encode(dst, f.Type(), fv, depth+1); err != nil {
			return nil, fmt.Errorf("field %q: %w", f.Name(), err)
		}
	}
	if used != len(o.keys) {
		for _, k := range o.keys {
			if !hasField(t, k) {
				return nil, fmt.Errorf("%w: key %q is not a field of %s", errJSON, k, t.FullName())
			}
		}
	}
	return dst, nil
}

func (jsonEncoder) primitive(dst []byte, typ avro.Type, v any) ([]byte, error) {
	switch typ {
	case avro.Null:
		if v == nil {
			return dst, nil
		}
	case avro.Boolean:
		if b, ok := v.(bool); ok {
			if b {
				return append(dst, 1), nil
			}
			return append(dst, 0), nil
		}
	case avro.Int, avro.Long:
		if n, ok := v.(json.Number); ok {
			bits := 64
			if typ == avro.Int {
				bits = 32
			}
			if i, err := strconv.ParseInt(string(n), 10, bits); err == nil {
				return binary.AppendVarint(dst, i), nil
			}
		}
	case avro.Float, avro.Double:
		if n, ok := v.(json.Number); ok {
			bits := 64
			if typ == avro.Float {
				bits = 32
			}
			f, ok := exactFloat(string(n), bits)
			if ok && bits == 64 {
				return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f)), nil
			}
			if ok {
				return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(f))), nil
			}
		}
	case avro.String:
		if str, ok := v.(string); ok {
			return appendString(dst, str), nil
		}
	}
	return nil, fmt.Errorf("%w: %s is not a %s", errJSON, describe(v), typ)
}

// exactFloat parses a JSON number into a float of bits (32 or 64) only when
// the float's shortest text is the same number: 1.50 and 0.1 are, while
// 9007199254740993, 0.10000000000000000001 and 1e-400 would come back as
// other numbers and are refused.
func exactFloat(text string, bits int) (float64, bool) {
	f, err := strconv.ParseFloat(text, bits)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	in, ok := new(big.Rat).SetString(text)
	if !ok {
		return 0, false
	}
	out, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, bits))
	return f, ok && in.Cmp(out) == 0
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendVarint(dst, int64(len(s))), s...)
}

func (o *jobject) get(k string) (any, bool) {
	for i, key := range o.keys {
		if key == k {
			return o.vals[i], true
		}
	}
	return nil, false
}

func hasField(r *avro.RecordSchema, name string) bool {
	for _, f := range r.Fields() {
		if f.Name() == name {
			return true
		}
	}
	return false
}

func nullable(s avro.Schema) bool {
	u, ok := s.(*avro.UnionSchema)
	return ok && u.Nullable()
}

func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case *jobject:
		return "an object"
	case []any:
		return "an array"
	case json.Number:
		return "number " + string(t)
	case string:
		return strconv.Quote(t)
	}
	return fmt.Sprint(v)
}

// checkJSONSchema refuses a --value-schema that JSON values cannot fill.
func checkJSONSchema(s avro.Schema, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("nests deeper than %d levels (a recursive schema?)", maxDepth)
	}
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	switch t := s.(type) {
	case *avro.UnionSchema:
		for _, b := range t.Types() {
			if err := checkJSONSchema(b, depth+1); err != nil {
				return err
			}
		}
	case *avro.RecordSchema:
		for _, f := range t.Fields() {
			if err := checkJSONSchema(f.Type(), depth+1); err != nil {
				return fmt.Errorf("field %q: %w", f.Name(), err)
			}
		}
	case *avro.ArraySchema:
		return checkJSONSchema(t.Items(), depth+1)
	case *avro.MapSchema:
		return checkJSONSchema(t.Values(), depth+1)
	case *avro.EnumSchema:
	default:
		switch s.Type() {
		case avro.Null, avro.Boolean, avro.Int, avro.Long, avro.Float, avro.Double, avro.String:
			if l, ok := s.(avro.LogicalTypeSchema); ok && l.Logical() != nil && l.Logical().Type() == avro.Decimal {
				return errors.New("decimal cannot come from a JSON number exactly")
			}
		default:
			return fmt.Errorf("%s values cannot come from JSON text", s.Type())
		}
	}
	return nil
}
