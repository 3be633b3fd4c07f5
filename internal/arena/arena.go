// Package arena hands out values of one type from shared blocks, so that a hot
// path (a record read or produced) costs one allocation per block, not one per value.
package arena

// Arena hands out values of T from blocks of Block values (256 when zero). A
// block is never reused: whatever keeps a value keeps its block alive. The
// zero Arena is ready; it is not safe for concurrent use.
type Arena[T any] struct {
	Block int
	free  []T
}

// New returns a zeroed value of its own.
func (a *Arena[T]) New() *T { return &a.Take(1)[0] }

// Take returns n zeroed values of their own, with cap == len so that
// appending to them copies instead of overwriting a neighbour.
func (a *Arena[T]) Take(n int) []T {
	if len(a.free) < n {
		a.free = make([]T, max(n, a.Block, 256))
	}
	s := a.free[:n:n]
	a.free = a.free[n:]
	return s
}
