package backup

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/pkg/manifest"
)

// TestCoverageOfGoldenManifests: the plain golden manifests of every version
// (gaps, compaction holes, a new lineage) account for their offsets, so restore
// never refuses a backup that kferry wrote.
func TestCoverageOfGoldenManifests(t *testing.T) {
	files, err := filepath.Glob("../../pkg/manifest/testdata/v*/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden manifests: %v", err)
	}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := manifest.Unmarshal(body)
		if err != nil {
			continue // an encrypted one
		}
		for _, tp := range m.Topics {
			for i := range tp.Partition {
				if problems := coverageProblems(tp.Name, &tp.Partition[i]); len(problems) > 0 {
					t.Errorf("%s: %q", f, problems)
				}
			}
		}
	}
}

func TestUncovered(t *testing.T) {
	tests := []struct {
		name    string
		r       span
		covered []span
		want    []span
	}{
		{"all covered", span{0, 10}, []span{{0, 4}, {4, 10}}, nil},
		{"holes largest first", span{0, 20}, []span{{2, 5}, {6, 10}}, []span{{10, 20}, {0, 2}, {5, 6}}},
		{"unsorted and overlapping", span{0, 10}, []span{{5, 8}, {0, 6}}, []span{{8, 10}}},
		{"spans outside the range", span{5, 10}, []span{{0, 6}, {9, 30}}, []span{{6, 9}}},
		{"nothing covered", span{3, 7}, nil, []span{{3, 7}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, uncovered(tt.r, tt.covered), cmp.AllowUnexported(span{})); diff != "" {
				t.Errorf("uncovered (-want +got):\n%s", diff)
			}
		})
	}
}
