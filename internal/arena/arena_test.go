package arena

import "testing"

// Values handed out never overlap, appending to one leaves its neighbour
// alone, and blocks hold Block values.
func TestArena(t *testing.T) {
	a := Arena[int64]{Block: 4}
	p, q := a.New(), a.New()
	*p, *q = 1, 2
	if *p != 1 || p == q {
		t.Fatalf("New gave overlapping values: %d %d", *p, *q)
	}
	s, next := a.Take(1), a.Take(1)
	s[0], next[0] = 3, 4
	grown := append(s, 9) // cap == len: a copy
	if next[0] != 4 || grown[1] != 9 {
		t.Fatalf("append to one slice changed its neighbour: %v %v", next, grown)
	}
	if big := a.Take(10); len(big) != 10 || cap(big) != 10 {
		t.Fatalf("Take(10) = len %d cap %d", len(big), cap(big))
	}
	if *p != 1 || *q != 2 {
		t.Fatal("a new block changed values handed out before")
	}
}
