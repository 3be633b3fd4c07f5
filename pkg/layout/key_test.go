package layout

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var defaultNaming = Naming{TopicsDir: DefaultTopicsDir}

// goldenKeys pairs keys from FORMATS.md (and variants of them) with their parsed objects.
var goldenKeys = []struct {
	name   string
	naming Naming
	key    string
	obj    Object
}{
	{"json values", defaultNaming, "topics/orders/partition=3/orders+3+0000000040.json",
		Object{Topic: "orders", Partition: 3, StartOffset: 40, Ext: ".json"}},
	{"json headers", defaultNaming, "topics/orders/partition=3/orders+3+0000000040.headers.json",
		Object{Topic: "orders", Partition: 3, StartOffset: 40, View: ViewHeaders, Ext: ".json"}},
	{"avro keys", defaultNaming, "topics/orders/partition=3/orders+3+0000000040.keys.avro",
		Object{Topic: "orders", Partition: 3, StartOffset: 40, View: ViewKeys, Ext: ".avro"}},
	{"gzip json", defaultNaming, "topics/orders/partition=3/orders+3+0000000040.json.gz",
		Object{Topic: "orders", Partition: 3, StartOffset: 40, Ext: ".json", Gzip: true}},
	{"bytes", defaultNaming, "topics/orders/partition=3/orders+3+0000000040.bin",
		Object{Topic: "orders", Partition: 3, StartOffset: 40, Ext: ".bin"}},
	{"gzip json keys", defaultNaming, "topics/orders/partition=3/orders+3+0000000040.keys.json.gz",
		Object{Topic: "orders", Partition: 3, StartOffset: 40, View: ViewKeys, Ext: ".json", Gzip: true}},
	{"snappy parquet", defaultNaming, "topics/orders/partition=3/orders+3+0000000040.snappy.parquet",
		Object{Topic: "orders", Partition: 3, StartOffset: 40, Ext: ".snappy.parquet"}},
	{"gzip parquet is not gzip", defaultNaming, "topics/orders/partition=3/orders+3+0000000040.keys.gz.parquet",
		Object{Topic: "orders", Partition: 3, StartOffset: 40, View: ViewKeys, Ext: ".gz.parquet"}},
	{"native", defaultNaming, "topics/orders/partition=0/orders+0+0000000000.kfr",
		Object{Topic: "orders", Ext: ".kfr"}},
	{"dots underscores hyphens", defaultNaming, "topics/my.app_v2-events/partition=11/my.app_v2-events+11+0000000007.json",
		Object{Topic: "my.app_v2-events", Partition: 11, StartOffset: 7, Ext: ".json"}},
	{"pad 3", Naming{TopicsDir: "topics", Pad: 3}, "topics/orders/partition=3/orders+3+040.json",
		Object{Topic: "orders", Partition: 3, StartOffset: 40, Ext: ".json"}},
	{"offset wider than pad", defaultNaming, "topics/orders/partition=3/orders+3+12345678901.json",
		Object{Topic: "orders", Partition: 3, StartOffset: 12345678901, Ext: ".json"}},
	{"no topics dir", Naming{}, "orders/partition=3/orders+3+0000000040.json",
		Object{Topic: "orders", Partition: 3, StartOffset: 40, Ext: ".json"}},
	{"nested topics dir", Naming{TopicsDir: "a/b"}, "a/b/orders/partition=3/orders+3+0000000040.headers.json",
		Object{Topic: "orders", Partition: 3, StartOffset: 40, View: ViewHeaders, Ext: ".json"}},
	{"max partition and offset", defaultNaming,
		"topics/t/partition=2147483647/t+2147483647+9223372036854775807.bin",
		Object{Topic: "t", Partition: 2147483647, StartOffset: 9223372036854775807, Ext: ".bin"}},
}

func TestKey(t *testing.T) {
	for _, tc := range goldenKeys {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.naming.Key(tc.obj); got != tc.key {
				t.Errorf("Key(%+v) = %q, want %q", tc.obj, got, tc.key)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, tc := range goldenKeys {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.key, tc.naming.TopicsDir)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.key, err)
			}
			if diff := cmp.Diff(tc.obj, got); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tc.key, diff)
			}
		})
	}
}

func TestParseAnyPad(t *testing.T) {
	for _, key := range []string{
		"topics/orders/partition=3/orders+3+40.json",
		"topics/orders/partition=3/orders+3+040.json",
		"topics/orders/partition=3/orders+3+0000000040.json",
		"topics/orders/partition=3/orders+3+00000000000000000040.json",
	} {
		t.Run(key, func(t *testing.T) {
			got, err := Parse(key, "topics")
			if err != nil {
				t.Fatal(err)
			}
			if got.StartOffset != 40 {
				t.Errorf("StartOffset = %d, want 40", got.StartOffset)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	namings := []Naming{{}, {TopicsDir: "topics"}, {TopicsDir: "a/b", Pad: 3}, {TopicsDir: "x", Pad: 20}}
	objs := []Object{
		{Topic: "orders", Partition: 3, StartOffset: 40, Ext: ".json"},
		{Topic: "a.b_c-d", Partition: 0, StartOffset: 0, View: ViewKeys, Ext: ".avro"},
		{Topic: "T9", Partition: 1000, StartOffset: 12345678901, View: ViewHeaders, Ext: ".json", Gzip: true},
		{Topic: "t", Partition: 1, StartOffset: 5, Ext: ".zstd.parquet"},
		{Topic: "t", Partition: 1, StartOffset: 5, View: ViewKeys, Ext: ".bin", Gzip: true},
	}
	for _, n := range namings {
		for _, o := range objs {
			key := n.Key(o)
			t.Run(key, func(t *testing.T) {
				got, err := Parse(key, n.TopicsDir)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(o, got); diff != "" {
					t.Errorf("Parse(Key(o)) mismatch (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestPrefixes(t *testing.T) {
	tests := []struct {
		naming              Naming
		topicPrefix, prefix string
	}{
		{Naming{TopicsDir: "topics"}, "topics/orders/", "topics/orders/partition=3/"},
		{Naming{}, "orders/", "orders/partition=3/"},
		{Naming{TopicsDir: "a/b"}, "a/b/orders/", "a/b/orders/partition=3/"},
		{Naming{TopicsDir: "/topics/"}, "topics/orders/", "topics/orders/partition=3/"},
	}
	for _, tc := range tests {
		t.Run(tc.naming.TopicsDir, func(t *testing.T) {
			if got := tc.naming.TopicPrefix("orders"); got != tc.topicPrefix {
				t.Errorf("TopicPrefix = %q, want %q", got, tc.topicPrefix)
			}
			if got := tc.naming.PartitionPrefix("orders", 3); got != tc.prefix {
				t.Errorf("PartitionPrefix = %q, want %q", got, tc.prefix)
			}
			key := tc.naming.Key(Object{Topic: "orders", Partition: 3, Ext: ".json"})
			if !strings.HasPrefix(key, tc.prefix) {
				t.Errorf("Key %q lacks prefix %q", key, tc.prefix)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, key, topicsDir string
		wantMsg              string // a fragment of the error message
	}{
		{"no partition folder", "topics/orders/orders+3+0000000040.json", "topics", "path segments"},
		{"other partitioner folder", "topics/orders/year=2024/orders+3+0000000040.json", "topics", `folder "year=2024"`},
		{"time based layout", "topics/t/year=2024/month=01/day=05/hour=13/t+0+0000000100.avro", "topics", "default partitioner"},
		{"partition folder mismatch", "topics/orders/partition=4/orders+3+0000000040.json", "topics", "differs from partition 3"},
		{"topic folder mismatch", "topics/other/partition=3/orders+3+0000000040.json", "topics", `topic folder "other"`},
		{"partition folder not a number", "topics/orders/partition=x/orders+3+0000000040.json", "topics", "not a decimal number"},
		{"non-numeric offset", "topics/orders/partition=3/orders+3+00000000x0.json", "topics", "start offset"},
		{"offset missing", "topics/orders/partition=3/orders+3+.json", "topics", "start offset"},
		{"offset overflow", "topics/orders/partition=3/orders+3+99999999999999999999.json", "topics", "out of range"},
		{"non-numeric partition", "topics/orders/partition=3/orders+x+0000000040.json", "topics", `partition "x"`},
		{"signed partition", "topics/orders/partition=3/orders++3+0000000040.json", "topics", ""},
		{"partition overflow", "topics/t/partition=2147483648/t+2147483648+0.json", "topics", "out of range"},
		{"plus missing", "topics/orders/partition=3/orders-3-0000000040.json", "topics", "missing '+'"},
		{"one plus", "topics/orders/partition=3/orders+0000000040.json", "topics", "missing '+'"},
		{"empty ext", "topics/orders/partition=3/orders+3+0000000040", "topics", "no format extension"},
		{"only gz", "topics/orders/partition=3/orders+3+0000000040.gz", "topics", "no format extension"},
		{"only view", "topics/orders/partition=3/orders+3+0000000040.keys.gz", "topics", "no format extension"},
		{"only dot", "topics/orders/partition=3/orders+3+0000000040.", "topics", "no format extension"},
		{"dot dot segment", "topics/../orders/partition=3/orders+3+0000000040.json", "topics", `".."`},
		{"dot dot topic", "../partition=3/..+3+0000000040.json", "", `".."`},
		{"absolute", "/topics/orders/partition=3/orders+3+0000000040.json", "topics", "absolute"},
		{"absolute without dir", "/orders/partition=3/orders+3+0000000040.json", "", "absolute"},
		{"other topics dir", "backup/orders/partition=3/orders+3+0000000040.json", "topics", "not under topics dir"},
		{"dir given, key has none", "orders/partition=3/orders+3+0000000040.json", "topics", "not under topics dir"},
		{"dir not given, key has one", "topics/orders/partition=3/orders+3+0000000040.json", "", "differs from topic"},
		{"tombstone", "topics/s3_topic/tombstone/s3_topic+97+0000000001.keys.avro", "topics", "tombstone"},
		{"invalid topic", "topics/a b/partition=3/a b+3+0000000040.json", "topics", "not allowed"},
		{"empty topic", "topics//partition=3/+3+0000000040.json", "topics", "empty"},
		{"folder", "topics/orders/partition=3/", "topics", "missing '+'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.key, tc.topicsDir)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error", tc.key, got)
			}
			if !errors.Is(err, ErrNotObject) {
				t.Errorf("error %v does not wrap ErrNotObject", err)
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Errorf("error %q does not name the key", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tc.wantMsg)
			}
		})
	}
}

func TestParseInvalidTopicWrapsBoth(t *testing.T) {
	_, err := Parse("topics/a$b/partition=0/a$b+0+0.json", "topics")
	if !errors.Is(err, ErrNotObject) || !errors.Is(err, ErrInvalidTopic) {
		t.Errorf("error %v should wrap ErrNotObject and ErrInvalidTopic", err)
	}
}

func TestValidTopic(t *testing.T) {
	tests := []struct {
		name  string
		topic string
		ok    bool
	}{
		{"simple", "orders", true},
		{"all classes", "Az09._-", true},
		{"single char", "a", true},
		{"max length", strings.Repeat("x", 249), true},
		{"too long", strings.Repeat("x", 250), false},
		{"empty", "", false},
		{"dot", ".", false},
		{"dot dot", "..", false},
		{"three dots", "...", true},
		{"space", "a b", false},
		{"slash", "a/b", false},
		{"plus", "a+b", false},
		{"colon", "a:b", false},
		{"non-ascii", "café", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidTopic(tc.topic)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidTopic(%q) = %v, want ok=%v", tc.topic, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidTopic) {
				t.Errorf("error %v does not wrap ErrInvalidTopic", err)
			}
		})
	}
}

func TestViewString(t *testing.T) {
	tests := []struct {
		v    View
		want string
	}{{ViewValues, "values"}, {ViewKeys, "keys"}, {ViewHeaders, "headers"}, {View(7), "View(7)"}}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.v.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSortObjects(t *testing.T) {
	o := func(topic string, p int32, off int64, v View) Object {
		return Object{Topic: topic, Partition: p, StartOffset: off, View: v, Ext: ".json"}
	}
	got := []Object{
		o("b", 0, 0, ViewValues),
		o("a", 10, 0, ViewValues),
		o("a", 2, 12345678901, ViewValues),
		o("a", 2, 9999999999, ViewHeaders),
		o("a", 2, 9999999999, ViewKeys),
		o("a", 2, 9999999999, ViewValues),
		o("a", 2, 40, ViewValues),
	}
	want := []Object{
		o("a", 2, 40, ViewValues),
		o("a", 2, 9999999999, ViewValues),
		o("a", 2, 9999999999, ViewKeys),
		o("a", 2, 9999999999, ViewHeaders),
		o("a", 2, 12345678901, ViewValues),
		o("a", 10, 0, ViewValues),
		o("b", 0, 0, ViewValues),
	}
	SortObjects(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SortObjects mismatch (-want +got):\n%s", diff)
	}
}

func TestSortObjectsTotalOrder(t *testing.T) {
	got := []Object{
		{Topic: "t", Ext: ".json", Gzip: true},
		{Topic: "t", Ext: ".json"},
		{Topic: "t", Ext: ".bin", Gzip: true},
		{Topic: "t", Ext: ".bin"},
	}
	want := []Object{
		{Topic: "t", Ext: ".bin"},
		{Topic: "t", Ext: ".bin", Gzip: true},
		{Topic: "t", Ext: ".json"},
		{Topic: "t", Ext: ".json", Gzip: true},
	}
	SortObjects(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SortObjects mismatch (-want +got):\n%s", diff)
	}
}

func TestCheckTopicsDir(t *testing.T) {
	for _, tc := range []struct {
		dir string
		ok  bool
	}{
		{"topics", true}, {"topics/", true}, {"/a/b/", true}, {"kafka.v2", true},
		{"", false}, {"/", false}, {"..", false}, {"../x", false}, {"a/../b", false},
		{"./x", false}, {"a//b", false}, {"a/.", false},
	} {
		err := CheckTopicsDir(tc.dir)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidTopicsDir)) {
			t.Errorf("CheckTopicsDir(%q) = %v, want ok=%v", tc.dir, err, tc.ok)
		}
	}
}
