package jsonfmt

import (
	"bytes"
	"unicode/utf8"

	"github.com/kferry/kferry/pkg/record"
)

// headersFast reads a headers line as the encoder writes it,
// {"headers":[{"key":"k","value":"v"},{"key":"n","value":null}]}, when its
// strings hold no escapes and no control bytes and are UTF-8. Anything else
// (other spacing, order or fields, escapes) gives ok false and goes to
// encoding/json, whose reading this matches (TestHeadersFastMatchesJSON):
// encoding/json cost an import of 100-byte records with headers more than
// half its CPU. Values come from the decoder's slab.
func (d *decoder) headersFast(line []byte) (hs []record.Header, ok bool) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"headers":[`))
	if !ok {
		return nil, false
	}
	if bytes.Equal(rest, []byte("]}")) {
		return nil, true
	}
	for {
		var k, v []byte
		if k, rest, ok = plainString(rest, `{"key":"`); !ok {
			return nil, false
		}
		h := record.Header{Key: string(k)}
		if r, null := bytes.CutPrefix(rest, []byte(`,"value":null}`)); null {
			rest = r
		} else {
			if v, rest, ok = plainString(rest, `,"value":"`); !ok {
				return nil, false
			}
			if rest, ok = bytes.CutPrefix(rest, []byte("}")); !ok {
				return nil, false
			}
			h.Value = []byte{}
			if len(v) > 0 {
				h.Value = d.slab.Clone(v)
			}
		}
		hs = append(hs, h)
		if r, more := bytes.CutPrefix(rest, []byte(",")); more {
			rest = r
			continue
		}
		return hs, bytes.Equal(rest, []byte("]}"))
	}
}

// plainString cuts prefix (which ends with the string's opening quote) and
// the string after it from b, when the string holds no escape, no control
// byte and only UTF-8.
func plainString(b []byte, prefix string) (s, rest []byte, ok bool) {
	b, ok = bytes.CutPrefix(b, []byte(prefix))
	if !ok {
		return nil, nil, false
	}
	end := bytes.IndexByte(b, '"')
	if end < 0 {
		return nil, nil, false
	}
	s = b[:end]
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			return nil, nil, false
		}
	}
	if !utf8.Valid(s) {
		return nil, nil, false
	}
	return s, b[end+1:], true
}
