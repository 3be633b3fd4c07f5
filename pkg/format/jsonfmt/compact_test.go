package jsonfmt

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// compactCases are inputs on which the fast path must agree with json.Compact.
var compactCases = []string{
	``, ` `, `{}`, `[]`, ` { } `, `[ ]`, `{"a":1}`, "{\n  \"a\" : [1, 2.5, -3e+2, 0.0E-1],\t\"b\":null\r\n}",
	`"x"`, `"a\"b\\c\/d\b\f\n\r\t\u00e9\uABCD"`, `"\u12"`, `"\x"`, `"\u12G4"`, "\"tab\there\"", `"unterminated`,
	`"é ü 日本"`, "\"\xff\xfe invalid utf8\"", "\xff", `true`, `false`, `null`, `tru`, `nul`, `truex`, `[truex]`,
	`0`, `-0`, `01`, `-`, `1.`, `.5`, `1e`, `1e+`, `1E5`, `-12.34e-56`, `1 2`, `[1,]`, `[,1]`, `{"a":}`, `{"a" 1}`,
	`{"a":1,}`, `{1:2}`, `{"a":1 "b":2}`, `[1 2]`, `[[[[]]]]`, `[[[[]]]`, `]`, `}`, `{"a":{"b":{"c":[{"d":"e"}]}}}`,
	"  [1]  \n", `[1]x`, `"abcdefghijklmnopqrstuvwxyz0123456789 with spaces inside"`, `{"k":"v\"q\"","n":[ 1 , 2 ]}`,
	strings.Repeat("[", 1001) + strings.Repeat("]", 1001), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat("[", 1000) + strings.Repeat("]", 1000), "\"\x1f\"", "\"\x7f\"", "\"\x20\"",
	`"` + strings.Repeat(`\n\"`, 200000) + `"`, `"` + strings.Repeat(`\n`, 200000), `"ab\"cd\\"`, `"\\"`, `"\\\"`,
	`"ctl after escape \n` + "\x01" + `"`, `"ctl before escape ` + "\x01" + `\n"`, `"` + strings.Repeat("y", 100) + "\x1f" + `"`,
}

func TestAppendCompactMatchesEncodingJSON(t *testing.T) {
	for _, in := range compactCases {
		checkCompact(t, []byte(in))
	}
}

func FuzzAppendCompact(f *testing.F) {
	for _, in := range compactCases {
		if len(in) < 4096 { // the long cases would slow the fuzzer down
			f.Add([]byte(in))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkCompact(t, in) })
}

func checkCompact(t *testing.T, in []byte) {
	t.Helper()
	var want bytes.Buffer
	werr := json.Compact(&want, in)
	prefix := []byte("prefix:")
	got, err := appendCompact(append([]byte(nil), prefix...), in)
	switch {
	case (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()):
		t.Fatalf("appendCompact(%q) error %v, json.Compact error %v", in, err, werr)
	case err != nil && !bytes.Equal(got, prefix):
		t.Fatalf("appendCompact(%q) failed but changed dst to %q", in, got)
	case err == nil && !bytes.Equal(got, append(prefix, want.Bytes()...)):
		t.Fatalf("appendCompact(%q) = %q, json.Compact gives %q", in, got[len(prefix):], want.Bytes())
	}
	// The fast path may refuse valid input only for its depth limit (then
	// json.Compact takes over), and must never accept invalid input.
	if _, ok := compact(nil, in); (ok && werr != nil) || (!ok && werr == nil && len(in) < maxFastDepth) {
		t.Fatalf("fast path accepts %q: %v, json.Compact error %v", in, ok, werr)
	}
}
