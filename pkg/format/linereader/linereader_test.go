package linereader_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/pkg/format/linereader"
)

// rec is one record as Next returned it, with the position the Reader reported.
type rec struct {
	Text   string
	Line   int
	Offset int64
}

// readAll calls Next until it fails and returns the records and the final error.
func readAll(r *linereader.Reader) ([]rec, error) {
	out := []rec{}
	for {
		b, err := r.Next()
		if err != nil {
			return out, err
		}
		out = append(out, rec{string(b), r.Line(), r.Offset()})
	}
}

func TestNext(t *testing.T) {
	tests := []struct {
		name string
		in   string
		sep  byte
		want []rec
	}{
		{"empty", "", '\n', []rec{}},
		{"one", "abc\n", '\n', []rec{{"abc", 1, 0}}},
		{"positions", "ab\ncde\n\nf\n", '\n', []rec{{"ab", 1, 0}, {"cde", 2, 3}, {"", 3, 7}, {"f", 4, 8}}},
		{"no final separator", "ab\ncd", '\n', []rec{{"ab", 1, 0}, {"cd", 2, 3}}},
		{"leading empty record", "\nx\n", '\n', []rec{{"", 1, 0}, {"x", 2, 1}}},
		{"only separators", "\n\n", '\n', []rec{{"", 1, 0}, {"", 2, 1}}},
		{"other separator", "a\x00b\nc\x00", 0, []rec{{"a", 1, 0}, {"b\nc", 2, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte per Read: record boundaries must not depend on how the
			// source splits its data.
			for name, src := range map[string]io.Reader{"whole": strings.NewReader(tt.in), "bytewise": iotest.OneByteReader(strings.NewReader(tt.in))} {
				got, err := readAll(linereader.New(src, tt.sep))
				if !errors.Is(err, io.EOF) {
					t.Fatalf("%s: final error = %v, want io.EOF", name, err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s: records (-want +got):\n%s", name, diff)
				}
			}
		})
	}
}

// TestLongRecords: records far longer than the 256 KiB read buffer come back
// whole, and the positions after them are right.
func TestLongRecords(t *testing.T) {
	long1 := pattern(1<<20 + 3)
	long2 := pattern(300 << 10)
	in := long1 + "\n" + "short\n" + long2
	got, err := readAll(linereader.New(strings.NewReader(in), '\n'))
	if !errors.Is(err, io.EOF) {
		t.Fatalf("final error = %v, want io.EOF", err)
	}
	want := []rec{
		{long1, 1, 0},
		{"short", 2, int64(len(long1) + 1)},
		{long2, 3, int64(len(long1) + 1 + len("short\n"))},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: got %d bytes at line %d offset %d, want %d bytes at line %d offset %d (equal text: %v)",
				i, len(got[i].Text), got[i].Line, got[i].Offset, len(want[i].Text), want[i].Line, want[i].Offset, got[i].Text == want[i].Text)
		}
	}
}

// pattern returns n bytes that are not all alike, so a shifted copy is caught.
func pattern(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return string(b)
}

// endless yields 'x' forever and counts what it handed out.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.n += int64(len(p))
	return len(p), nil
}

// TestTooLong: a source without separators ends in ErrTooLong, naming the line and
// its start, after reading not much more than the limit.
func TestTooLong(t *testing.T) {
	src := &endless{}
	r := linereader.New(io.MultiReader(strings.NewReader("ok\n"), src), '\n')
	if b, err := r.Next(); err != nil || string(b) != "ok" {
		t.Fatalf("first Next = %q, %v", b, err)
	}
	_, err := r.Next()
	if !errors.Is(err, linereader.ErrTooLong) {
		t.Fatalf("Next on an endless record = %v, want ErrTooLong", err)
	}
	for _, s := range []string{"line 2", "at byte 3"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if limit := int64(linereader.MaxRecordBytes + 1<<20); src.n > limit {
		t.Errorf("read %d bytes from the source before giving up, want at most %d", src.n, limit)
	}
}

// TestExactlyMax: a record of exactly MaxRecordBytes is not "longer than" the
// limit, with or without its separator.
func TestExactlyMax(t *testing.T) {
	for _, tail := range []string{"\nz\n", ""} {
		src := io.MultiReader(io.LimitReader(&endless{}, linereader.MaxRecordBytes), strings.NewReader(tail))
		r := linereader.New(src, '\n')
		b, err := r.Next()
		if err != nil {
			t.Fatalf("tail %q: record of exactly MaxRecordBytes: %v", tail, err)
		}
		if len(b) != linereader.MaxRecordBytes || bytes.IndexByte(b, '\n') >= 0 {
			t.Fatalf("tail %q: got %d bytes, want %d without separator", tail, len(b), linereader.MaxRecordBytes)
		}
		if tail == "" {
			if _, err := r.Next(); !errors.Is(err, io.EOF) {
				t.Errorf("after the last record: %v, want io.EOF", err)
			}
			continue
		}
		b, err = r.Next()
		if err != nil || string(b) != "z" || r.Offset() != linereader.MaxRecordBytes+1 || r.Line() != 2 {
			t.Errorf("record after the long one = %q, %v at line %d offset %d; want \"z\" at line 2 offset %d",
				b, err, r.Line(), r.Offset(), linereader.MaxRecordBytes+1)
		}
	}
}

// TestReadError: a failing source is reported with the line and byte where the
// unfinished record started, and the cause stays visible to errors.Is.
func TestReadError(t *testing.T) {
	cause := errors.New("connection reset")
	src := io.MultiReader(strings.NewReader("a\nbc"), iotest.ErrReader(cause))
	got, err := readAll(linereader.New(src, '\n'))
	if !errors.Is(err, cause) {
		t.Fatalf("error = %v, want one wrapping %v", err, cause)
	}
	if !strings.Contains(err.Error(), "line 2 at byte 2") {
		t.Errorf("error %q does not say line 2 at byte 2", err)
	}
	if diff := cmp.Diff([]rec{{"a", 1, 0}}, got); diff != "" {
		t.Errorf("records before the error (-want +got):\n%s", diff)
	}
}

// A Reader read to its end hands its buffer to the next one: what the next
// one returns is its own input, and the finished one keeps answering io.EOF.
func TestBufferReuse(t *testing.T) {
	first := linereader.New(strings.NewReader("a\nb"), '\n')
	var got []string
	for {
		b, err := first.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	for i := range 3 {
		if b, err := first.Next(); !errors.Is(err, io.EOF) || b != nil {
			t.Fatalf("call %d after the end: %q, %v; want io.EOF", i, b, err)
		}
	}
	for i := range 100 {
		want := strings.Repeat(string(rune('c'+i%20)), 1+i*37)
		r := linereader.New(strings.NewReader(want+"\n"), '\n')
		b, err := r.Next()
		if err != nil || string(b) != want {
			t.Fatalf("reader %d: %d bytes, %v; want its own %d-byte line", i, len(b), err, len(want))
		}
		if _, err := r.Next(); !errors.Is(err, io.EOF) {
			t.Fatalf("reader %d: %v after its only line, want io.EOF", i, err)
		}
	}
	if diff := cmp.Diff([]string{"a", "b"}, got); diff != "" {
		t.Fatal(diff)
	}
}

// Readers on many goroutines pass read buffers through the pool, some ending
// at io.EOF, some at a read error: each reads its own input (run with -race).
func TestBufferReuseConcurrently(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 512)
	for g := range 512 {
		wg.Go(func() {
			line := strings.Repeat(string(rune('a'+g%26)), 1+g*13%5000)
			var src io.Reader = strings.NewReader(strings.Repeat(line+"\n", 1+g%7))
			if g%3 == 0 {
				src = io.MultiReader(src, iotest.ErrReader(errors.New("boom")))
			}
			r := linereader.New(src, '\n')
			for n := 0; ; n++ {
				b, err := r.Next()
				if err != nil {
					if (g%3 == 0) == errors.Is(err, io.EOF) || n != 1+g%7 {
						errs <- fmt.Errorf("reader %d: %w after %d lines", g, err, n)
					}
					return
				}
				if string(b) != line {
					errs <- fmt.Errorf("reader %d line %d: %.10q, want %.10q", g, n, b, line)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
