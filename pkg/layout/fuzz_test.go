package layout

import (
	"strings"
	"testing"
)

// FuzzParse: Parse never panics, never accepts path traversal or invalid topics,
// and what it accepts formats back to the same key.
func FuzzParse(f *testing.F) {
	for _, k := range []string{
		"topics/orders/partition=3/orders+3+0000000040.json",
		"topics/orders/partition=3/orders+3+0000000040.keys.json.gz",
		"topics/a.b_c-d/partition=0/a.b_c-d+0+12345678901.snappy.parquet",
		"topics/../partition=0/..+0+0.json",
		"/etc/passwd",
	} {
		f.Add(k, "topics")
	}
	f.Fuzz(func(t *testing.T, key, dir string) {
		o, err := Parse(key, dir)
		if err != nil {
			return
		}
		if ValidTopic(o.Topic) != nil || o.Partition < 0 || o.StartOffset < 0 {
			t.Fatalf("accepted %q as %+v", key, o)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == ".." {
				t.Fatalf("accepted traversal %q", key)
			}
		}
		if strings.HasPrefix(key, "/") {
			t.Fatalf("accepted absolute key %q", key)
		}
	})
}

// FuzzRename: parsing and applying arbitrary rules never panics, and a rule that
// applies yields its output deterministically.
func FuzzRename(f *testing.F) {
	f.Add(`source-topic-(\d)=sink-topic-$1`, "source-topic-1")
	f.Add(`(?P<a>x)(y)=${a}$2\$`, "xy")
	f.Add(`.*=$0`, "t")
	f.Fuzz(func(t *testing.T, spec, topic string) {
		r, err := ParseRename(spec)
		if err != nil {
			return
		}
		a, okA := r.Apply(topic)
		b, okB := r.Apply(topic)
		if a != b || okA != okB {
			t.Fatalf("Apply not deterministic: %q/%v vs %q/%v", a, okA, b, okB)
		}
		if !okA && a != topic {
			t.Fatalf("no match but topic changed: %q -> %q", topic, a)
		}
	})
}
