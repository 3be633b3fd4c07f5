package kafka

import (
	"context"

	"golang.org/x/time/rate"
)

// RateLimit caps the bytes a run reads from or writes to one cluster per
// second, across every reader and writer made from the Config that holds it
// (--max-rate): a backup or restore that must not crowd out the cluster's
// own clients. A nil RateLimit does not limit.
type RateLimit struct {
	l     *rate.Limiter
	burst int
}

// NewRateLimit returns a limit of bytesPerSecond; nil when it is 0 or less.
func NewRateLimit(bytesPerSecond int64) *RateLimit {
	if bytesPerSecond <= 0 {
		return nil
	}
	// A burst of a quarter second (at least 64 KiB): smooth enough that a
	// cluster sees the rate, large enough that waits are few.
	burst := int(max(bytesPerSecond/4, 64<<10))
	return &RateLimit{l: rate.NewLimiter(rate.Limit(bytesPerSecond), burst), burst: burst}
}

// BytesPerSecond is the limit, 0 for none.
func (r *RateLimit) BytesPerSecond() int64 {
	if r == nil {
		return 0
	}
	return int64(r.l.Limit())
}

// wait blocks until n more bytes may move, or ctx ends.
func (r *RateLimit) wait(ctx context.Context, n int) error {
	if r == nil {
		return nil
	}
	for n > 0 {
		chunk := min(n, r.burst)
		if err := r.l.WaitN(ctx, chunk); err != nil {
			return err
		}
		n -= chunk
	}
	return nil
}
