package pipeline_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// sourceRecords fills source-topic-1 (2 partitions) and source-topic-2 (3
// partitions, the last one left empty) with records whose keys, values and
// headers suit the format: JSON values and UTF-8 keys for json, arbitrary
// separator-free bytes for bytes. Headers include null and empty values.
func sourceRecords(e *testkit.Env, formatName string) {
	r := rand.New(rand.NewPCG(1, 2))
	text := []rune("aZ9 -\"\\\t\x01<&>é日🚀")
	randText := func(n int) []byte {
		var out []rune
		for range r.IntN(n) + 1 {
			out = append(out, text[r.IntN(len(text))])
		}
		return []byte(string(out))
	}
	randBytes := func(n int) []byte {
		out := make([]byte, r.IntN(n)+1)
		for i := range out {
			if out[i] = byte(r.UintN(256)); out[i] == '\n' {
				out[i] = 0
			}
		}
		return out
	}
	for topic, counts := range map[string][]int{"source-topic-1": {23, 17}, "source-topic-2": {9, 30, 0}} {
		e.CreateTopic(topic, int32(len(counts)))
		var recs []record.Record
		for p, n := range counts {
			for i := range n {
				rec := record.Record{Topic: topic, Partition: int32(p)}
				switch formatName {
				case "json":
					rec.Key = randText(12)
					s, _ := json.Marshal(string(randText(20)))
					rec.Value = fmt.Appendf(nil, `{"i":%d,"s":%s,"f":1.50,"l":[true,null]}`, i, s)
				default:
					rec.Key = randBytes(12)
					rec.Value = randBytes(64)
				}
				rec.Headers = []record.Header{{Key: "trace", Value: randText(8)}, {Key: "null", Value: nil}, {Key: "empty", Value: []byte{}}}
				recs = append(recs, rec)
			}
		}
		e.Produce(recs...)
	}
}

// TestRoundTripRename exports two topics with keys and headers and imports them
// under new names: every record comes back in its partition, in order, with its
// key, value and headers, and the targets get the sources' partition counts
// (also the empty partition, known from the export's topic metadata).
func TestRoundTripRename(t *testing.T) {
	tests := []struct {
		format string
		gzip   bool
		bucket string
		par    int // 1: one reader fetches windows of two and three partitions at once
	}{
		{"json", false, "mem", 0},
		{"json", true, "file", 0},
		{"bytes", false, "file", 0},
		{"bytes", true, "mem", 0},
		{"json", true, "mem", 1},
		{"bytes", false, "file", 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s gzip=%v %s par=%d", tt.format, tt.gzip, tt.bucket, tt.par), func(t *testing.T) {
			e := testkit.New(t, tt.bucket)
			sourceRecords(e, tt.format)
			exp, err := e.Export(pipeline.ExportOptions{
				Format: tt.format, StoreKeys: true, StoreHeaders: true, Naming: layout.Naming{TopicsDir: "topics"},
				FlushSize: 4, Gzip: tt.gzip, Parallelism: tt.par,
			})
			if err != nil {
				t.Fatalf("export: %v", err)
			}
			imp, err := e.ImportAll(pipeline.ImportOptions{
				TopicsDir: "topics", CreateTopics: true, Strict: true, Renames: testkit.MustRenames(t, `source-topic-(\d)=sink-topic-$1`),
			})
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			parts := e.Partitions()
			for _, n := range []string{"1", "2"} {
				src, dst := "source-topic-"+n, "sink-topic-"+n
				want := e.TopicRecords(src)
				if len(want) == 0 {
					t.Fatalf("%s is empty", src)
				}
				if diff := cmp.Diff(want, e.TopicRecords(dst)); diff != "" {
					t.Errorf("%s vs %s (-source +sink):\n%s", src, dst, diff)
				}
				if parts[dst] != parts[src] {
					t.Errorf("%s has %d partitions, %s has %d", dst, parts[dst], src, parts[src])
				}
			}
			if imp.Records != exp.Records || imp.Objects != exp.Objects || exp.Records != 23+17+9+30 {
				t.Errorf("export moved %d records in %d objects, import %d in %d; want 79 both ways", exp.Records, exp.Objects, imp.Records, imp.Objects)
			}
			for _, ts := range imp.Topics {
				if want := "sink" + ts.Topic[len("source"):]; ts.Target != want {
					t.Errorf("summary: %s imported into %q, want %q", ts.Topic, ts.Target, want)
				}
			}
		})
	}
}

// TestRoundTripWithoutTopicsDir: with a blank topics dir the topic folders sit at
// the bucket root next to kferry's own _kferry/ metadata, which a strict import
// must not take for a bad object name.
func TestRoundTripWithoutTopicsDir(t *testing.T) {
	e := testkit.New(t, "mem")
	e.CreateTopic("orders", 2)
	recs := append(testkit.Records("orders", 0, 3), testkit.Records("orders", 1, 2)...)
	e.Produce(recs...)
	if _, err := e.Export(pipeline.ExportOptions{Format: "json", Naming: layout.Naming{TopicsDir: ""}, FlushSize: 2}); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Objects()["orders/partition=0/orders+0+0000000000.json"]; !ok {
		t.Fatalf("objects not at the bucket root: %v", e.Objects())
	}
	s, err := e.ImportAll(pipeline.ImportOptions{TopicsDir: "", CreateTopics: true, Strict: true, Renames: testkit.MustRenames(t, `orders=copy`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Warnings) != 0 {
		t.Errorf("warnings: %q", s.Warnings)
	}
	var want []testkit.Rec
	for _, r := range e.TopicRecords("orders") {
		r.K, r.H = "null", "" // keys and headers were not stored
		want = append(want, r)
	}
	if diff := cmp.Diff(want, e.TopicRecords("copy")); diff != "" {
		t.Errorf("copy (-want +got):\n%s", diff)
	}
}
