package manifest

import (
	"errors"
	"testing"
)

// FuzzUnmarshal: arbitrary bytes yield a manifest or an error, never a panic;
// unknown majors are always refused.
func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(`{"format_version":"1.0","id":"x","topics":[{"name":"t","partitions":1,"partition_details":[{"partition":0,"objects":[{"key":"k"}]}]}]}`))
	f.Add([]byte(`{"format_version":"2.0"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Unmarshal(b)
		if err != nil {
			return
		}
		if m.FormatVersion == "" || m.FormatVersion[0] != '1' {
			t.Fatalf("accepted version %q", m.FormatVersion)
		}
		if _, err := Marshal(m); err != nil && !errors.Is(err, ErrVersion) {
			t.Fatalf("accepted manifest does not marshal: %v", err)
		}
	})
}
