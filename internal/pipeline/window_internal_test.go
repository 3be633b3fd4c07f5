package pipeline

import "testing"

// SetWindowBuffer makes windows stream and pause above n bytes and reports
// what a window holds after each fetch, and how many of its ranges it then
// pauses, to observe, until the test ends.
func SetWindowBuffer(t testing.TB, n int64, observe func(held int64, paused int)) {
	old, oldObserve := windowBuffer, windowPolled
	windowBuffer, windowPolled = n, observe
	t.Cleanup(func() { windowBuffer, windowPolled = old, oldObserve })
}
