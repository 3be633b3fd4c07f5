package native

import (
	"io"

	"github.com/kferry/kferry/pkg/format/internal/container"
)

// MaxBlockBytes bounds one container block, compressed or not. kferry writes
// blocks of about 1 MiB (more only for a record above that); the bound is there
// so a corrupt or hostile size field or compression bomb cannot make the reader
// allocate without limit.
const MaxBlockBytes = MaxRecordBytes + 16<<20

// maxBlockBytes is MaxBlockBytes, lowered by fuzz tests to keep each input cheap.
var maxBlockBytes int64 = MaxBlockBytes

// containerReader is the shared Avro container reader (pkg/format/internal/container).
type containerReader = container.Reader

func newContainerReader(r io.Reader) (*containerReader, error) {
	return container.NewReader(r, maxBlockBytes)
}

// causeText: see container.CauseText.
func causeText(err error) string { return container.CauseText(err) }
