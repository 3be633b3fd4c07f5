package layout

import (
	"fmt"
	"strings"
)

// FieldLayout is the FieldPartitioner's: one name=<value> folder per field
// name, in order (what FieldFolder writes).
type FieldLayout struct{ Names []string }

// CheckFolder accepts one name=<value> segment per field name, in order; as
// in Confluent's S3 Source, a value holding a '/' makes a folder it refuses.
func (l FieldLayout) CheckFolder(_ int32, folder string) error {
	segs := strings.Split(folder, "/")
	if len(segs) != len(l.Names) {
		return fmt.Errorf("folder %q has %d levels, the field partitioner of %s writes %d", folder, len(segs), strings.Join(l.Names, ","), len(l.Names))
	}
	for i, seg := range segs {
		if !strings.HasPrefix(seg, l.Names[i]+"=") {
			return fmt.Errorf("folder %q: level %d is not %s=<value>", folder, i+1, l.Names[i])
		}
	}
	return nil
}

func (l FieldLayout) String() string {
	return "field partitioner: <topic>/" + strings.Join(l.Names, "=<v>/") + "=<v>/<file>"
}

// AnyLayout accepts the folders of every partitioner (a partition=<p> folder
// must still name the file's partition): for reading one object whose
// exporter's settings are unknown, not for finding a topic's objects.
type AnyLayout struct{}

// CheckFolder refuses only a partition=<p> folder of another partition.
func (AnyLayout) CheckFolder(p int32, folder string) error {
	if strings.HasPrefix(folder, partitionFolder) && !strings.Contains(folder, "/") {
		return DefaultLayout{}.CheckFolder(p, folder)
	}
	return nil
}

func (AnyLayout) String() string { return "any partitioner: <topic>/<folders>/<file>" }
