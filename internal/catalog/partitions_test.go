package catalog_test

import (
	"math"
	"testing"

	"github.com/kferry/kferry/internal/catalog"
)

// TestInt32Partitions: a partition count read from the bucket converts to
// Kafka's int32 only when it fits; a corrupted count is an error, never a
// wrapped (smaller or negative) count.
func TestInt32Partitions(t *testing.T) {
	tests := []struct {
		n       int
		want    int32
		wantErr bool
	}{
		{n: 0, want: 0},
		{n: 9, want: 9},
		{n: math.MaxInt32, want: math.MaxInt32},
		{n: math.MaxInt32 + 1, wantErr: true},
		{n: 1<<32 + 3, wantErr: true},
	}
	for _, tt := range tests {
		got, err := catalog.Int32Partitions("t", tt.n)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("int32Partitions(%d) = %d, %v; want %d, error %v", tt.n, got, err, tt.want, tt.wantErr)
		}
	}
}
