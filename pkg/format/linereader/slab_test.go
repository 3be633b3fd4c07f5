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
