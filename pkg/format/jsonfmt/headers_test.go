package jsonfmt

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// slowHeaders is the encoding/json reading of a headers line.
func slowHeaders(t *testing.T, line []byte) ([]record.Header, error) {
	t.Helper()
	var hl headerLine
	if err := json.Unmarshal(line, &hl); err != nil {
		return nil, err
	}
	var hs []record.Header
	for _, h := range hl.Headers {
		var v []byte
		if h.Value != nil {
			v = []byte(*h.Value)
		}
		hs = append(hs, record.Header{Key: h.Key, Value: v})
	}
	return hs, nil
}

// TestHeadersFastMatchesJSON: wherever the fast reader takes a line, it reads
// what encoding/json reads, null and empty values apart; the encoder's lines
// of plain headers all take the fast path, and lines of another shape fall
// back.
func TestHeadersFastMatchesJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"a", "key", "", "é", "日本", `"`, `\`, "\t", "\n", "\u2028", "}", "]", ",", `{"x":1}`, "null", " "}
	str := func() string {
		var b []byte
		for range rng.IntN(4) {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		return string(b)
	}
	var d decoder
	fast := 0
	for i := range 5000 {
		var rec record.Record
		for range rng.IntN(4) {
			h := record.Header{Key: str()}
			if rng.IntN(4) > 0 {
				h.Value = []byte(str())
			}
			rec.Headers = append(rec.Headers, h)
		}
		var buf bytes.Buffer
		enc, err := Format{}.NewEncoder(&buf, layout.ViewHeaders)
		if err != nil {
			t.Fatal(err)
		}
		if err := enc.Encode(&rec); err != nil {
			t.Fatal(err)
		}
		line := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		want, err := slowHeaders(t, line)
		if err != nil {
			t.Fatalf("line %d %s: %v", i, line, err)
		}
		got, ok := d.headersFast(line)
		if !ok {
			if !bytes.ContainsAny(line, "\\") {
				t.Fatalf("a line without escapes fell back: %s", line)
			}
			continue
		}
		fast++
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("line %s: fast reading differs from encoding/json (-json +fast):\n%s", line, diff)
		}
		for j := range got {
			if (got[j].Value == nil) != (want[j].Value == nil) {
				t.Fatalf("line %s: header %d null %v, encoding/json says %v", line, j, got[j].Value == nil, want[j].Value == nil)
			}
		}
	}
	if fast < 1000 {
		t.Fatalf("only %d of 5000 lines took the fast path", fast)
	}
	for _, other := range []string{
		`{"headers": []}`, `{ "headers":[]}`, `{"headers":[{"value":"v","key":"k"}]}`,
		`{"headers":[{"key":"k","value":"v"}],"x":1}`, `{"headers":[{"key":"k","value":"v"},]}`,
		`{"headers":[{"key":"k","value":1}]}`, `{"headers":[{"key":"k"}]}`, `{"headers":[{"key":"k","value":"v"}]} `,
		"{\"headers\":[{\"key\":\"\xff\",\"value\":null}]}", `{"Headers":[]}`, `{"headers":null}`,
	} {
		if _, ok := d.headersFast([]byte(other)); ok {
			t.Errorf("the fast reader took %s", other)
		}
	}
}
