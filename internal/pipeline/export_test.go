package pipeline_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// ordersTopic fills topic "orders" with 3 partitions: 5 records in partition 0,
// 3 in partition 1, none in partition 2 (see mkRecs; value, when set, gives the
// value of each partition's record i), and returns the records.
func ordersTopic(e *testkit.Env, value func(i int) []byte) []record.Record {
	e.CreateTopic("orders", 3)
	var recs []record.Record
	for p, n := range []int{5, 3} {
		part := testkit.Records("orders", int32(p), n)
		for i := range part {
			if value != nil {
				part[i].Value = value(i)
			}
		}
		recs = append(recs, part...)
	}
	e.Produce(recs...)
	return recs
}

// (Longer than 80 lines on purpose: most of it is the table of cases.)
func TestExportObjects(t *testing.T) {
	const p0, p1 = "topics/orders/partition=0/orders+0+", "topics/orders/partition=1/orders+1+"
	hdr := func(vals ...string) string {
		var b strings.Builder
		for _, v := range vals {
			b.WriteString(`{"headers":[{"key":"h","value":"` + v + `"}]}` + "\n")
		}
		return b.String()
	}
	jsonObjects := map[string]string{
		p0 + "0000000000.json": "{\"n\":0}\n{\"n\":1}\n", p0 + "0000000000.keys.json": "\"k0\"\n\"k1\"\n", p0 + "0000000000.headers.json": hdr("0", "1"),
		p0 + "0000000002.json": "{\"n\":2}\n{\"n\":3}\n", p0 + "0000000002.keys.json": "\"k2\"\n\"k3\"\n", p0 + "0000000002.headers.json": hdr("2", "3"),
		p0 + "0000000004.json": "{\"n\":4}\n", p0 + "0000000004.keys.json": "\"k4\"\n", p0 + "0000000004.headers.json": hdr("4"),
		p1 + "0000000000.json": "{\"n\":0}\n{\"n\":1}\n", p1 + "0000000000.keys.json": "\"k0\"\n\"k1\"\n", p1 + "0000000000.headers.json": hdr("0", "1"),
		p1 + "0000000002.json": "{\"n\":2}\n", p1 + "0000000002.keys.json": "\"k2\"\n", p1 + "0000000002.headers.json": hdr("2"),
	}
	gzObjects := map[string]string{}
	for k, v := range jsonObjects {
		gzObjects[k+".gz"] = v
	}
	// bytes values with pad 3; keys in bytes too, headers in json (the default).
	bytesObjects := map[string]string{
		"topics/orders/partition=0/orders+0+000.bin": "v0\nv1\n", "topics/orders/partition=0/orders+0+000.keys.bin": "k0\nk1\n",
		"topics/orders/partition=0/orders+0+000.headers.json": hdr("0", "1"),
		"topics/orders/partition=0/orders+0+002.bin":          "v2\nv3\n", "topics/orders/partition=0/orders+0+002.keys.bin": "k2\nk3\n",
		"topics/orders/partition=0/orders+0+002.headers.json": hdr("2", "3"),
		"topics/orders/partition=0/orders+0+004.bin":          "v4\n", "topics/orders/partition=0/orders+0+004.keys.bin": "k4\n",
		"topics/orders/partition=0/orders+0+004.headers.json": hdr("4"),
		"topics/orders/partition=1/orders+1+000.bin":          "v0\nv1\n", "topics/orders/partition=1/orders+1+000.keys.bin": "k0\nk1\n",
		"topics/orders/partition=1/orders+1+000.headers.json": hdr("0", "1"),
		"topics/orders/partition=1/orders+1+002.bin":          "v2\n", "topics/orders/partition=1/orders+1+002.keys.bin": "k2\n",
		"topics/orders/partition=1/orders+1+002.headers.json": hdr("2"),
	}
	tests := []struct {
		name   string
		bucket string
		format string
		gzip   bool
		pad    int
		want   map[string]string
	}{
		{"json plain", "mem", "json", false, 10, jsonObjects},
		{"json gzip", "mem", "json", true, 10, gzObjects},
		{"json plain on file", "file", "json", false, 0, jsonObjects},
		{"bytes pad 3 on file", "file", "bytes", false, 3, bytesObjects},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testkit.New(t, tt.bucket)
			var value func(int) []byte
			if tt.format == "bytes" {
				value = func(i int) []byte { return []byte("v" + strconv.Itoa(i)) }
			}
			recs := ordersTopic(e, value)
			before := time.Now()
			s, err := e.Export(pipeline.ExportOptions{
				Selector: plan.Selector{Names: []string{"orders"}}, Format: tt.format, StoreKeys: true, StoreHeaders: true,
				Naming: layout.Naming{TopicsDir: layout.DefaultTopicsDir, Pad: tt.pad}, FlushSize: 2, Gzip: tt.gzip,
			})
			if err != nil {
				t.Fatal(err)
			}
			// Each values object has its offsets record, beside the layout.
			records := e.OffsetsRecords()
			for k := range tt.want {
				if strings.Contains(k, ".keys.") || strings.Contains(k, ".headers.") {
					continue
				}
				n := 0
				for rk := range records {
					if strings.HasPrefix(rk, "_kferry/offsets/"+k+"/") {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%s has %d offsets records, want 1 (all: %v)", k, n, slices.Sorted(maps.Keys(records)))
				}
			}
			if len(records) != 5 {
				t.Errorf("%d offsets records, want 5 (one per values object)", len(records))
			}
			got := e.Objects()
			meta, ok := got[catalog.TopicMetaKey("orders")]
			delete(got, catalog.TopicMetaKey("orders"))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			if !ok {
				t.Fatalf("no %s", catalog.TopicMetaKey("orders"))
			}
			checkMeta(t, e, meta, "orders", tt.format, before)
			checkExportSummary(t, s, recs)
		})
	}
}

func checkMeta(t *testing.T, e *testkit.Env, body, topic, format string, before time.Time) {
	t.Helper()
	var m catalog.TopicMeta
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("topic metadata %q: %v", body, err)
	}
	info, err := e.KC.Topics(e.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := catalog.TopicMeta{Topic: topic, Partitions: info[topic].Partitions, ReplicationFactor: info[topic].ReplicationFactor, Format: format, ExportedAt: m.ExportedAt, ID: info[topic].ID}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("topic metadata (-want +got):\n%s", diff)
	}
	if m.ExportedAt.Before(before.Add(-time.Second)) || m.ExportedAt.After(time.Now()) || m.ExportedAt.Location() != time.UTC {
		t.Errorf("exported_at %v is not the UTC start of this export (after %v)", m.ExportedAt, before)
	}
}

// checkExportSummary compares the summary's counts with what was produced:
// flush size 2 gives ceil(n/2) objects per partition.
func checkExportSummary(t *testing.T, s pipeline.Summary, recs []record.Record) {
	t.Helper()
	type part struct {
		records, bytes int64
		last           int64
	}
	byP := map[int32]*part{}
	for i := range recs {
		p := byP[recs[i].Partition]
		if p == nil {
			p = &part{}
			byP[recs[i].Partition] = p
		}
		p.records++
		p.bytes += int64(recs[i].Size())
		p.last = p.records - 1
	}
	var want []pipeline.PartitionSummary
	var total, bytes int64
	objects := 0
	for _, p := range slices.Sorted(maps.Keys(byP)) {
		n := byP[p]
		obj := int((n.records + 1) / 2)
		want = append(want, pipeline.PartitionSummary{Partition: p, Records: n.records, Bytes: n.bytes, Objects: obj, FirstOffset: 0, LastOffset: n.last})
		total, bytes, objects = total+n.records, bytes+n.bytes, objects+obj
	}
	if len(s.Topics) != 1 {
		t.Fatalf("summary has %d topics, want 1: %+v", len(s.Topics), s.Topics)
	}
	got := s.Topics[0].Partitions
	got = slices.DeleteFunc(got, func(ps pipeline.PartitionSummary) bool {
		return ps.Records == 0 && ps.Objects == 0 && ps.FirstOffset == -1 && ps.LastOffset == -1
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("partition summaries (-want +got):\n%s", diff)
	}
	if s.Records != total || s.Bytes != bytes || s.Objects != objects || s.Command != "export" {
		t.Errorf("summary %s: %d records, %d bytes, %d objects; want export: %d, %d, %d", s.Command, s.Records, s.Bytes, s.Objects, total, bytes, objects)
	}
}

// TestExportRotation: objects rotate after RotateBytes uncompressed value bytes
// (the record that crosses the limit is the object's last) and when a record's
// timestamp is RotateInterval or more after the object's first.
func TestExportRotation(t *testing.T) {
	t0 := time.Date(2024, 6, 5, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		opts       pipeline.ExportOptions
		timestamps []time.Duration // after t0; one record each
		wantStarts []int64
	}{
		{"bytes: 11-byte lines, limit 25 → 3 per object", pipeline.ExportOptions{RotateBytes: 25},
			[]time.Duration{0, 0, 0, 0, 0, 0, 0, 0}, []int64{0, 3, 6}},
		{"bytes with gzip counts uncompressed bytes", pipeline.ExportOptions{RotateBytes: 25, Gzip: true},
			[]time.Duration{0, 0, 0, 0, 0, 0, 0, 0}, []int64{0, 3, 6}},
		{"flush size wins when smaller", pipeline.ExportOptions{RotateBytes: 25, FlushSize: 2},
			[]time.Duration{0, 0, 0, 0, 0}, []int64{0, 2, 4}},
		{"record time interval 10s", pipeline.ExportOptions{RotateInterval: 10 * time.Second},
			[]time.Duration{0, time.Second, 2 * time.Second, 10 * time.Second, 11 * time.Second, 25 * time.Second, 26 * time.Second},
			[]int64{0, 3, 5}},
		{"interval and flush size", pipeline.ExportOptions{RotateInterval: 10 * time.Second, FlushSize: 2},
			[]time.Duration{0, time.Second, 2 * time.Second, 12 * time.Second, 13 * time.Second},
			[]int64{0, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testkit.New(t, "mem")
			e.CreateTopic("rot", 1)
			var recs []record.Record
			for i, d := range tt.timestamps {
				// `"aaaaaaaa"` is 10 bytes of JSON, 11 with its newline.
				recs = append(recs, record.Record{Topic: "rot", Key: []byte{'k', byte('0' + i)}, Value: []byte(`"aaaaaaaa"`), Timestamp: t0.Add(d)})
			}
			e.Produce(recs...)
			o := tt.opts
			o.Selector, o.Format, o.Naming = plan.Selector{Names: []string{"rot"}}, "json", layout.Naming{TopicsDir: "topics"}
			if _, err := e.Export(o); err != nil {
				t.Fatal(err)
			}
			starts := assertContiguous(t, e.Objects(), "topics", map[string]map[int32]int64{"rot": {0: int64(len(recs))}})
			if diff := cmp.Diff(tt.wantStarts, starts["rot"][0]); diff != "" {
				t.Errorf("object start offsets (-want +got):\n%s", diff)
			}
		})
	}
}

// TestExportContiguous exports several partitions with mixed rotation rules and
// checks that each partition's objects tile its offsets without gap or overlap,
// with sidecars aligned.
func TestExportContiguous(t *testing.T) {
	e := testkit.New(t, "file")
	sizes := map[int32]int{0: 40, 1: 25, 2: 13, 3: 0}
	e.CreateTopic("tiles", int32(len(sizes)))
	var recs []record.Record
	for p, n := range sizes {
		for i, r := range testkit.Records("tiles", p, n) {
			r.Value = []byte(`{"pad":"` + strings.Repeat("x", (i*7)%23) + `"}`)
			recs = append(recs, r)
		}
	}
	e.Produce(recs...)
	s, err := e.Export(pipeline.ExportOptions{
		Format: "json", StoreKeys: true, StoreHeaders: true, Naming: layout.Naming{TopicsDir: "topics"},
		FlushSize: 7, RotateBytes: 120, Gzip: true, Parallelism: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	for p, n := range sizes {
		if n > 0 {
			want[p] = int64(n)
		}
	}
	starts := assertContiguous(t, e.Objects(), "topics", map[string]map[int32]int64{"tiles": want})
	objects := 0
	for _, st := range starts["tiles"] {
		objects += len(st)
	}
	if s.Objects != objects || s.Records != int64(len(recs)) {
		t.Errorf("summary: %d objects, %d records; bucket holds %d objects of %d records", s.Objects, s.Records, objects, len(recs))
	}
}

// assertContiguous parses every object under topicsDir and checks, per partition,
// that the values objects start at 0, each starts where the previous one ended
// (start + its line count), the last ends at want's end offset, and every sidecar
// has as many lines as its values object. It returns the start offsets.
func assertContiguous(t *testing.T, objects map[string]string, topicsDir string, want map[string]map[int32]int64) map[string]map[int32][]int64 {
	t.Helper()
	type obj struct {
		start int64
		lines int
	}
	values := map[string]map[int32][]obj{}
	sidecars := map[string]int{}
	for key, body := range objects {
		if !strings.HasPrefix(key, topicsDir+"/") {
			continue
		}
		o, err := layout.Parse(key, topicsDir)
		if err != nil {
			t.Errorf("unparsable object %s: %v", key, err)
			continue
		}
		lines := strings.Count(body, "\n")
		if o.View != layout.ViewValues {
			sidecars[key] = lines
			continue
		}
		if values[o.Topic] == nil {
			values[o.Topic] = map[int32][]obj{}
		}
		values[o.Topic][o.Partition] = append(values[o.Topic][o.Partition], obj{o.StartOffset, lines})
		for _, v := range []layout.View{layout.ViewKeys, layout.ViewHeaders} {
			for sk := range objects {
				if so, err := layout.Parse(sk, topicsDir); err == nil && so.View == v && so.Topic == o.Topic && so.Partition == o.Partition && so.StartOffset == o.StartOffset {
					if n := strings.Count(objects[sk], "\n"); n != lines {
						t.Errorf("%s has %d records, its values object %s has %d", sk, n, key, lines)
					}
				}
			}
		}
	}
	starts := map[string]map[int32][]int64{}
	for topic, byP := range want {
		starts[topic] = map[int32][]int64{}
		for p, end := range byP {
			objs := values[topic][p]
			slices.SortFunc(objs, func(a, b obj) int { return int(a.start - b.start) })
			next := int64(0)
			for _, o := range objs {
				if o.start != next {
					t.Errorf("%s/%d: object starts at %d, want %d (previous objects end there)", topic, p, o.start, next)
				}
				if o.lines == 0 {
					t.Errorf("%s/%d: empty object at %d", topic, p, o.start)
				}
				next = o.start + int64(o.lines)
				starts[topic][p] = append(starts[topic][p], o.start)
			}
			if next != end {
				t.Errorf("%s/%d: objects end at offset %d, want %d", topic, p, next, end)
			}
		}
		for p := range values[topic] {
			if _, ok := byP[p]; !ok {
				t.Errorf("%s/%d: unexpected objects %v", topic, p, values[topic][p])
			}
		}
	}
	return starts
}
