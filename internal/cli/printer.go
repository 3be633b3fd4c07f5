package cli

import (
	"fmt"
	"io"

	"gocloud.dev/blob"
)

// printer writes a command's text output and keeps the first write error, so a
// report of many lines is checked once, at its end. A command's output is its
// result: a full disk or a closed stdout fails the command (exit status 1)
// instead of passing unnoticed.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func (p *printer) println(args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintln(p.w, args...)
	}
}

// closeBucket releases b. Its error is ignored on purpose: a Bucket buffers no
// writes (each object is committed by its writer's Close, which is checked), so
// closing it loses nothing.
func closeBucket(b *blob.Bucket) { _ = b.Close() }
