package layout

import (
	"errors"
	"strings"
	"testing"
)

// TestParseInLayouts: each layout accepts its partitioner's folders and
// refuses the others', and Key writes what ParseIn reads back.
func TestParseInLayouts(t *testing.T) {
	field := FieldLayout{Names: []string{"region", "tier"}}
	tests := []struct {
		key    string
		l      Layout
		folder string // "" and err "": accepted with the default's folder
		err    string
	}{
		{"topics/t/partition=3/t+3+0000000040.json", DefaultLayout{}, "", ""},
		{"topics/t/partition=3/t+3+0000000040.json", AnyLayout{}, "", ""},
		{"topics/t/partition=3/t+3+0000000040.json", field, "", "has 1 levels"},
		{"topics/t/partition=2/t+3+0000000040.json", AnyLayout{}, "", "differs from partition 3"},
		{"topics/t/region=eu/tier=1/t+3+0000000040.json", field, "region=eu/tier=1", ""},
		{"topics/t/region=eu/tier=1/t+3+0000000040.json", AnyLayout{}, "region=eu/tier=1", ""},
		{"topics/t/region=eu/tier=1/t+3+0000000040.json", DefaultLayout{}, "", "--partitioner"},
		{"topics/t/tier=1/region=eu/t+3+0000000040.json", field, "", "level 1 is not region=<value>"},
		{"topics/t/region=eu/x/tier=1/t+3+0000000040.json", field, "", "has 3 levels"},
		{"topics/t/region=eu//t+3+0000000040.json", AnyLayout{}, "", "empty path segment"},
		{"topics/u/region=eu/tier=1/t+3+0000000040.json", field, "", "differs from topic"},
	}
	for _, tt := range tests {
		o, err := ParseIn(tt.key, "topics", tt.l)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrNotObject) {
				t.Errorf("ParseIn(%q, %s) = %v, want an ErrNotObject containing %q", tt.key, tt.l, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseIn(%q, %s): %v", tt.key, tt.l, err)
			continue
		}
		if o.Folder != tt.folder || o.Topic != "t" || o.Partition != 3 || o.StartOffset != 40 {
			t.Errorf("ParseIn(%q) = %+v", tt.key, o)
		}
		if back := (Naming{TopicsDir: "topics"}).Key(o); back != tt.key {
			t.Errorf("Key(ParseIn(%q)) = %q", tt.key, back)
		}
	}
}
