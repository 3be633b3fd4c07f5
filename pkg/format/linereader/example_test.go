package linereader_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/kferry/kferry/pkg/format/linereader"
)

func ExampleReader() {
	r := linereader.New(strings.NewReader("first\nsecond\nno final separator"), '\n')
	for {
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		fmt.Printf("line %d at byte %d: %s\n", r.Line(), r.Offset(), b)
	}
	// Output:
	// line 1 at byte 0: first
	// line 2 at byte 6: second
	// line 3 at byte 13: no final separator
}
