package plan

import (
	"errors"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSelect(t *testing.T) {
	avail := []string{"orders", "source-topic-1", "source-topic-2", "__consumer_offsets", "logs"}
	tests := []struct {
		name    string
		sel     Selector
		want    []string
		wantErr error
	}{
		{"names", Selector{Names: []string{"orders"}}, []string{"orders"}, nil},
		{"regex", Selector{Regex: regexp.MustCompile(`source-topic-\d`)}, []string{"source-topic-1", "source-topic-2"}, nil},
		{"regex is a full match", Selector{Regex: regexp.MustCompile(`^(?:source)$`)}, nil, ErrNothingSelected},
		{"all skips internal", Selector{}, []string{"logs", "orders", "source-topic-1", "source-topic-2"}, nil},
		{"internal when named", Selector{Names: []string{"__consumer_offsets"}}, []string{"__consumer_offsets"}, nil},
		{"regex never takes internal", Selector{Regex: regexp.MustCompile(`.*`)}, []string{"logs", "orders", "source-topic-1", "source-topic-2"}, nil},
		{"unknown", Selector{Names: []string{"nope", "orders"}}, nil, ErrUnknownTopic},
		{"nothing", Selector{Regex: regexp.MustCompile(`zzz`)}, nil, ErrNothingSelected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(avail, tt.sel, "cluster")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("topics (-want +got):\n%s", diff)
			}
		})
	}
}
