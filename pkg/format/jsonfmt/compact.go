package jsonfmt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
)

// maxFastDepth bounds the nesting compact handles itself; deeper values take the
// json.Compact path, which allows up to 10,000 levels.
const maxFastDepth = 1000

// appendCompact appends src to dst without the whitespace between tokens, exactly
// as json.Compact does, or returns json.Compact's error and dst unchanged when src
// is not one JSON value. Every record's value goes through it in both directions,
// so valid input takes a fast scanner; anything that scanner does not accept
// (invalid JSON, very deep nesting) is handed to json.Compact, which then decides
// and words the error, so the result is always json.Compact's.
func appendCompact(dst, src []byte) ([]byte, error) {
	if out, ok := compact(dst, src); ok {
		return out, nil
	}
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, src); err != nil {
		return dst, err
	}
	return buf.Bytes(), nil
}

// compact is the fast path of appendCompact: it reports false, and dst unchanged,
// for any src that is not one valid JSON value (RFC 8259 as encoding/json reads it:
// strings may hold any byte from 0x20 on except '"' and '\', UTF-8 is not checked).
func compact(dst, src []byte) ([]byte, bool) {
	c := compactor{src: src, dst: dst}
	c.space()
	if !c.value(0) {
		return dst, false
	}
	c.space()
	if c.i != len(src) {
		return dst, false
	}
	return append(c.dst, src[c.start:]...), true
}

type compactor struct {
	src   []byte
	dst   []byte
	i     int // next byte to read
	start int // first byte of src not yet copied to dst
}

// peek returns the next byte, or 0 (which starts no token) at the end.
func (c *compactor) peek() byte {
	if c.i < len(c.src) {
		return c.src[c.i]
	}
	return 0
}

func isSpace(b byte) bool { return b == ' ' || b == '\n' || b == '\t' || b == '\r' }

// space skips whitespace and leaves it out of the output.
func (c *compactor) space() {
	i := c.i
	if i >= len(c.src) || !isSpace(c.src[i]) {
		return
	}
	c.dst = append(c.dst, c.src[c.start:i]...)
	for i < len(c.src) && isSpace(c.src[i]) {
		i++
	}
	c.i, c.start = i, i
}

func (c *compactor) value(depth int) bool {
	switch c.peek() {
	case '{':
		return depth < maxFastDepth && c.container('}', depth)
	case '[':
		return depth < maxFastDepth && c.container(']', depth)
	case '"':
		return c.str()
	case 't':
		return c.literal("true")
	case 'f':
		return c.literal("false")
	case 'n':
		return c.literal("null")
	}
	return c.number()
}

// container reads an object (end '}') or array (end ']') from its opening byte.
func (c *compactor) container(end byte, depth int) bool {
	c.i++
	c.space()
	if c.peek() == end {
		c.i++
		return true
	}
	for {
		if end == '}' {
			if c.peek() != '"' || !c.str() {
				return false
			}
			c.space()
			if c.peek() != ':' {
				return false
			}
			c.i++
			c.space()
		}
		if !c.value(depth + 1) {
			return false
		}
		c.space()
		switch c.peek() {
		case ',':
			c.i++
			c.space()
		case end:
			c.i++
			return true
		default:
			return false
		}
	}
}

func (c *compactor) literal(lit string) bool {
	if len(c.src)-c.i < len(lit) || string(c.src[c.i:c.i+len(lit)]) != lit {
		return false
	}
	c.i += len(lit)
	return true
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; whatever follows
// is the caller's to judge.
func (c *compactor) number() bool {
	s, i := c.src, c.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i++; i < len(s) && isDigit(s[i]); i++ {
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	c.i = i
	return true
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// str reads a string from its opening quote. bytes.IndexByte (vector code) finds
// the next quote and backslash; the plain runs between escapes are checked for
// control bytes 8 at a time. Every byte is looked at a bounded number of times,
// however many escapes there are.
func (c *compactor) str() bool {
	s, i := c.src, c.i+1
	q := -1 // position of the first '"' at or after i, once known
	for {
		if q < i {
			k := bytes.IndexByte(s[i:], '"')
			if k < 0 {
				return false
			}
			q = i + k
		}
		run := s[i:q]
		if e := bytes.IndexByte(run, '\\'); e >= 0 {
			run = run[:e]
			if hasControl(run) {
				return false
			}
			i += e
			// s[i] is a backslash
			if i+1 >= len(s) {
				return false
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) || !isHex(s[i+5]) {
					return false
				}
				i += 6
			default:
				return false
			}
			continue
		}
		if hasControl(run) {
			return false
		}
		c.i = q + 1
		return true
	}
}

// hasControl reports whether b holds a byte below 0x20.
func hasControl(b []byte) bool {
	for len(b) >= 32 {
		x0, x1 := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
		x2, x3 := binary.LittleEndian.Uint64(b[16:]), binary.LittleEndian.Uint64(b[24:])
		if ((x0-ones*0x20)&^x0|(x1-ones*0x20)&^x1|(x2-ones*0x20)&^x2|(x3-ones*0x20)&^x3)&highs != 0 {
			return true
		}
		b = b[32:]
	}
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		if (x-ones*0x20)&^x&highs != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

func isHex(b byte) bool {
	return isDigit(b) || ('a' <= b && b <= 'f') || ('A' <= b && b <= 'F')
}
