package linereader

import (
	"bytes"
	"testing"
)

func TestSlabSlicesAreIndependent(t *testing.T) {
	var s Slab
	a := s.Clone([]byte("first"))
	b := s.Clone([]byte("second"))
	if cap(a) != len(a) || cap(b) != len(b) {
		t.Fatalf("cap != len: %d/%d, %d/%d", len(a), cap(a), len(b), cap(b))
	}
	a = append(a, "-grown"...)
	if string(a) != "first-grown" || string(b) != "second" {
		t.Fatalf("append to one slice changed another: %q %q", a, b)
	}
	if s.Clone(nil) != nil {
		t.Fatal("Clone(nil) != nil")
	}
	big := bytes.Repeat([]byte("x"), slabSize)
	if got := s.Clone(big); !bytes.Equal(got, big) {
		t.Fatal("large clone differs")
	}
	for i := range 1000 { // crosses block boundaries
		want := bytes.Repeat([]byte{byte(i)}, 1000)
		if got := s.Clone(want); !bytes.Equal(got, want) || cap(got) != len(got) {
			t.Fatalf("clone %d differs", i)
		}
	}
}

// A decoder of a small object allocates a small block; blocks double up to
// slabSize as records keep coming.
func TestSlabBlocksGrow(t *testing.T) {
	var s Slab
	s.Alloc(10)
	if got := len(s.free) + 10; got != slabFirst {
		t.Fatalf("first block %d bytes, want %d", got, slabFirst)
	}
	var blocks []int
	for range 10_000 {
		before := len(s.free)
		s.Alloc(100)
		if len(s.free) > before { // a new block
			blocks = append(blocks, len(s.free)+100)
		}
	}
	for i, b := range blocks {
		if b > slabSize {
			t.Fatalf("block %d is %d bytes, above %d", i, b, slabSize)
		}
		if i > 0 && b < blocks[i-1] {
			t.Fatalf("blocks shrank: %v", blocks)
		}
	}
	if blocks[len(blocks)-1] != slabSize {
		t.Fatalf("blocks never reached %d: %v", slabSize, blocks)
	}
	if got := s.Alloc(slabSize / 4); len(got) != slabSize/4 {
		t.Fatalf("Alloc(%d) gave %d bytes", slabSize/4, len(got))
	}
}
