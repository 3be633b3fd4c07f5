package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
)

// ErrStalled means a connection to the object store moved no byte for the stall
// timeout while a request was in flight. The attempt fails with it (and is
// retried); it reaches the user only when every attempt stalled.
var ErrStalled = errors.New("connection stalled")

// stallError is ErrStalled with the direction and the timeout. It is a net.Error
// with Timeout() true, which the SDK's retryer treats as retryable.
type stallError struct {
	dir     string // "received" or "sent"
	timeout time.Duration
}

func (e *stallError) Error() string {
	return fmt.Sprintf("%v: no byte %s for %s (%s)", ErrStalled, e.dir, e.timeout, StallTimeoutEnv)
}
func (e *stallError) Is(target error) bool { return target == ErrStalled }
func (e *stallError) Timeout() bool        { return true }
func (e *stallError) Temporary() bool      { return true }

var _ net.Error = (*stallError)(nil)

// stallWriteChunk is the most a Write hands to the connection under one
// deadline, so that the timeout measures progress, not the time to send a whole
// part.
const stallWriteChunk = 64 << 10

// stallConn fails a read or write after the connection moved no byte for
// timeout. A write also pushes the read deadline out, so the wait for a response
// counts from the last byte of the request; an idle pooled connection whose
// read deadline passes is closed, which the transport handles like a server
// closing it.
type stallConn struct {
	net.Conn
	timeout time.Duration
}

func (c *stallConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = &stallError{dir: "received", timeout: c.timeout}
	}
	return n, err
}

func (c *stallConn) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), stallWriteChunk)]
		deadline := time.Now().Add(c.timeout)
		if err := c.Conn.SetWriteDeadline(deadline); err != nil {
			return written, err
		}
		if err := c.Conn.SetReadDeadline(deadline); err != nil {
			return written, err
		}
		n, err := c.Conn.Write(chunk)
		written += n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return written, &stallError{dir: "sent", timeout: c.timeout}
		}
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// resumingKey marks the context of a GetObject made to resume a body, so that
// its own body is not wrapped a second time.
type resumingKey struct{}

// resumeBodies wraps the body of every GetObject response in a reader that,
// when the connection breaks or stalls mid-body, asks again for the bytes not
// yet read (a ranged GET that must match the ETag of the first response) and
// reads on. The SDK's retryer covers a call until its response headers arrive;
// this covers the body, which gocloud's reader streams to the decoder long
// after the call returned. client returns the client to resume with.
func resumeBodies(client func() *s3.Client) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("kferryResumeBody",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				params, ok := in.Parameters.(*s3.GetObjectInput)
				if err != nil || !ok || ctx.Value(resumingKey{}) != nil {
					return out, md, err
				}
				res, ok := out.Result.(*s3.GetObjectOutput)
				if !ok || res.Body == nil {
					return out, md, err
				}
				start, end, ok := parseRange(aws.ToString(params.Range))
				if !ok {
					return out, md, err
				}
				if res.ContentLength != nil && *res.ContentLength >= 0 {
					end = start + *res.ContentLength - 1
				}
				res.Body = &resumingBody{ctx: ctx, client: client(), in: *params, etag: res.ETag, body: res.Body, pos: start, end: end}
				return out, md, err
			}), middleware.After)
	}
}

// parseRange reads the Range header forms gocloud sends ("", "bytes=A-",
// "bytes=A-B") as the first and last byte wanted (last -1: to the end).
func parseRange(h string) (start, end int64, ok bool) {
	if h == "" {
		return 0, -1, true
	}
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found {
		return 0, 0, false
	}
	from, to, found := strings.Cut(spec, "-")
	if !found || from == "" || strings.Contains(to, ",") {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(from, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if to == "" {
		return start, -1, true
	}
	end, err = strconv.ParseInt(to, 10, 64)
	if err != nil || end < start {
		return 0, 0, false
	}
	return start, end, true
}

// resumingBody is a GetObject body that resumes after a broken connection; see
// resumeBodies. It is not safe for concurrent use, like the body it wraps.
type resumingBody struct {
	ctx    context.Context
	client *s3.Client
	in     s3.GetObjectInput
	etag   *string
	body   io.ReadCloser
	pos    int64 // absolute offset of the next byte
	end    int64 // absolute offset of the last byte wanted, -1 if unknown
	broken error // the error that broke body, until it is replaced
	fails  int   // resumes since the last byte read
}

func (b *resumingBody) Read(p []byte) (int, error) {
	for {
		if b.broken == nil {
			n, err := b.body.Read(p)
			b.pos += int64(n)
			if n > 0 {
				b.fails = 0
			}
			if err == nil || errors.Is(err, io.EOF) {
				return n, err
			}
			b.broken = err
			if n > 0 {
				return n, nil // the data first; the next Read resumes
			}
		}
		if b.end >= 0 && b.pos > b.end {
			return 0, io.EOF // every byte arrived; the connection broke after
		}
		if err := b.resume(); err != nil {
			return 0, err
		}
	}
}

// resume replaces the broken body with a ranged GET from pos, or returns the
// error that broke it when resuming is pointless or exhausted.
func (b *resumingBody) resume() error {
	cause := b.broken
	if b.ctx.Err() != nil || b.fails >= s3BodyResumes {
		return cause
	}
	b.fails++
	_ = b.body.Close()
	in := b.in
	in.Range = aws.String("bytes=" + strconv.FormatInt(b.pos, 10) + "-")
	if b.end >= 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", b.pos, b.end))
	}
	in.IfMatch = b.etag
	// A range has no checksum of its own to check against.
	in.ChecksumMode = ""
	out, err := b.client.GetObject(context.WithValue(b.ctx, resumingKey{}, true), &in, func(o *s3.Options) {
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	if err != nil {
		return fmt.Errorf("%w (resuming at byte %d: %w)", cause, b.pos, err)
	}
	b.body, b.broken = out.Body, nil
	return nil
}

func (b *resumingBody) Close() error { return b.body.Close() }
