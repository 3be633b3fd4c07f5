package linereader

// slabSize is the largest block Slab carves records from: big enough that a
// million 1 KiB records cost some 16,000 allocations instead of a million, small
// enough that a block kept alive by one record still in a producer's buffer
// wastes little. The first block is slabFirst and each next one twice the last:
// an import of thousands of 10 KB objects, one decoder (and Slab) each, spent
// more CPU zeroing 64 KiB blocks than decoding.
const (
	slabSize  = 64 << 10
	slabFirst = 4 << 10
)

// Slab hands out byte slices for decoded records that must stay valid after the
// decoder's next call (the producer holds them until the broker acknowledges).
// The slices never overlap and each has cap == len, so appending to one copies it
// instead of overwriting its neighbour. The zero Slab is ready to use; it is not
// safe for concurrent use.
type Slab struct {
	free []byte
	next int // the size of the next block; 0 before the first
}

// Alloc returns n zeroed bytes.
func (s *Slab) Alloc(n int) []byte {
	if n > slabSize/4 {
		return make([]byte, n)
	}
	if len(s.free) < n {
		s.next = min(max(s.next, slabFirst), slabSize)
		for s.next < n {
			s.next *= 2 // n ≤ slabSize/4, so this ends within slabSize
		}
		s.free = make([]byte, s.next)
		s.next *= 2
	}
	b := s.free[:n:n]
	s.free = s.free[n:]
	return b
}

// Clone returns a copy of b from the slab; nil stays nil.
func (s *Slab) Clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	c := s.Alloc(len(b))
	copy(c, b)
	return c
}
