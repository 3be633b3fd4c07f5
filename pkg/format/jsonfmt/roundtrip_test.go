package jsonfmt_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// runePool holds the characters that stress the encoder: JSON's specials, every
// kind of control character, HTML characters, separators JavaScript cares about,
// and multi-byte runes up to the astral planes.
var runePool = []rune("aZ09 -_.\"\\/\b\t\n\f\r\x00\x01\x1b\x1f\x7f<>&'\u00e9\u2028\u2029\u65e5\U0001F680\uFFFD")

func randText(r *rand.Rand, maxLen int) string {
	var b strings.Builder
	for range r.IntN(maxLen + 1) {
		b.WriteRune(runePool[r.IntN(len(runePool))])
	}
	return b.String()
}

var numberLiterals = []string{"0", "-0", "1", "-17", "1.50", "0.000", "12345678901234567890", "1e3", "1E+3", "-2.5e-10", "3.0E2"}

// randJSON returns compact JSON text; object keys may repeat and keep their order.
func randJSON(r *rand.Rand, depth int) string {
	kind := r.IntN(7)
	if depth >= 3 {
		kind = r.IntN(4)
	}
	switch kind {
	case 0:
		return numberLiterals[r.IntN(len(numberLiterals))]
	case 1:
		s, _ := json.Marshal(randText(r, 12))
		return string(s)
	case 2:
		return []string{"true", "false", "null"}[r.IntN(3)]
	case 3:
		return `""`
	case 4, 5:
		parts := make([]string, r.IntN(4))
		for i := range parts {
			k, _ := json.Marshal(randText(r, 5))
			parts[i] = string(k) + ":" + randJSON(r, depth+1)
		}
		return "{" + strings.Join(parts, ",") + "}"
	default:
		parts := make([]string, r.IntN(4))
		for i := range parts {
			parts[i] = randJSON(r, depth+1)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
}

func randRecord(r *rand.Rand, offset int64) record.Record {
	rec := record.Record{Offset: offset, Key: []byte(randText(r, 20)), Value: []byte(randJSON(r, 0))}
	for range r.IntN(4) {
		h := record.Header{Key: randText(r, 8)}
		switch r.IntN(3) {
		case 0: // null value
		case 1:
			h.Value = []byte{}
		default:
			h.Value = []byte(randText(r, 16))
		}
		rec.Headers = append(rec.Headers, h)
	}
	return rec
}

// TestRoundTripRandom encodes random records into the three views and decodes
// them again: values, UTF-8 keys and headers must come back exactly.
func TestRoundTripRandom(t *testing.T) {
	seed := uint64(20240605)
	r := rand.New(rand.NewPCG(seed, seed))
	recs := make([]record.Record, 2000)
	for i := range recs {
		recs[i] = randRecord(r, int64(i))
	}
	got := make([]record.Record, len(recs))
	for _, view := range []layout.View{layout.ViewValues, layout.ViewKeys, layout.ViewHeaders} {
		obj, err := encodeAll(view, recs)
		if err != nil {
			t.Fatalf("seed %d: encode %s: %v", seed, view, err)
		}
		if n := bytes.Count(obj, []byte("\n")); n != len(recs) {
			t.Fatalf("seed %d: %s object has %d lines, want one per record (%d)", seed, view, n, len(recs))
		}
		for i, line := range bytes.Split(bytes.TrimSuffix(obj, []byte("\n")), []byte("\n")) {
			if !json.Valid(line) || !utf8.Valid(line) {
				t.Fatalf("seed %d: %s line %d is not valid UTF-8 JSON: %q", seed, view, i+1, line)
			}
		}
		vals, err := decodeAll(view, obj)
		if err != nil {
			t.Fatalf("seed %d: decode %s: %v", seed, view, err)
		}
		if len(vals) != len(recs) {
			t.Fatalf("seed %d: decoded %d %s, want %d", seed, len(vals), view, len(recs))
		}
		// A value of the wrong type stays nil and shows in the diff below.
		for i, v := range vals {
			switch view {
			case layout.ViewValues:
				got[i].Value, _ = v.([]byte)
			case layout.ViewKeys:
				got[i].Key, _ = v.([]byte)
			case layout.ViewHeaders:
				got[i].Headers, _ = v.([]record.Header)
			}
		}
	}
	for i := range recs {
		want := record.Record{Key: recs[i].Key, Value: recs[i].Value, Headers: recs[i].Headers}
		if diff := cmp.Diff(want, got[i]); diff != "" {
			t.Fatalf("seed %d: record %d did not round-trip (-want +got):\n%s", seed, i, diff)
		}
	}
}

// FuzzValueRoundTrip: a value that is JSON comes back compacted; anything else is
// refused with ErrUnsupported and writes nothing.
func FuzzValueRoundTrip(f *testing.F) {
	for _, s := range []string{`{"b":1.50,"a":[1, 2]}`, `"hello"`, `abc`, "", "null", "[\n]", `{"a":"\u2028<"}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		obj, err := encodeAll(layout.ViewValues, []record.Record{{Value: v}})
		if !json.Valid(v) {
			if !errors.Is(err, format.ErrUnsupported) || len(obj) != 0 {
				t.Fatalf("Encode(%q) = %q, %v; want nothing and ErrUnsupported", v, obj, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Encode(%q): %v", v, err)
		}
		var want bytes.Buffer
		if err := json.Compact(&want, v); err != nil {
			t.Fatal(err)
		}
		got, err := decodeAll(layout.ViewValues, obj)
		if err != nil {
			t.Fatalf("decode %q: %v", obj, err)
		}
		if diff := cmp.Diff([]any{want.Bytes()}, got); diff != "" {
			t.Fatalf("value %q (-want +got):\n%s", v, diff)
		}
	})
}

// FuzzKeyRoundTrip: a UTF-8 key comes back byte for byte; other keys are refused.
func FuzzKeyRoundTrip(f *testing.F) {
	for _, s := range []string{"order-1", "", "null", `{"id":1}`, "\x00\x1f\"\\", "\u2028🚀", "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, k []byte) {
		obj, err := encodeAll(layout.ViewKeys, []record.Record{{Key: k}})
		if !utf8.Valid(k) {
			if !errors.Is(err, format.ErrUnsupported) || len(obj) != 0 {
				t.Fatalf("Encode(%q) = %q, %v; want nothing and ErrUnsupported", k, obj, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Encode(%q): %v", k, err)
		}
		got, err := decodeAll(layout.ViewKeys, obj)
		if err != nil {
			t.Fatalf("decode %q: %v", obj, err)
		}
		if diff := cmp.Diff([]any{k}, got); diff != "" {
			t.Fatalf("key %q (-want +got):\n%s", k, diff)
		}
	})
}
