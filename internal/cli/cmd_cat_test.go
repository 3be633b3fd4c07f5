package cli

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
)

// catRecord is one line cat prints.
type catRecord struct {
	Topic         string          `json:"topic"`
	Partition     int32           `json:"partition"`
	Offset        int64           `json:"offset"`
	Timestamp     int64           `json:"timestamp"`
	TimestampType string          `json:"timestamp_type"`
	Key           string          `json:"key"`
	Value         json.RawMessage `json:"value"`
	Headers       []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"headers"`
}

func catLines(t *testing.T, out string) []catRecord {
	t.Helper()
	var recs []catRecord
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r catRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("cat line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestCat: cat prints the records of a JSON object with its keys and headers
// sidecars, and of a native object with offsets and timestamps, one JSON line
// each.
func TestCat(t *testing.T) {
	dir := exported(t, kafkatest.NewCluster(t))
	out, _ := mustRun(t, "cat", "file://"+dir+"/topics/orders/partition=1/orders+1+0000000003.json")
	recs := catLines(t, out)
	if len(recs) != 2 {
		t.Fatalf("want 2 records (offsets 3 and 4 of partition 1):\n%s", out)
	}
	for i, r := range recs {
		n := 7 + 2*i // partition 1 holds the odd records; offset 3 is record 7
		want := catRecord{Topic: "orders", Partition: 1, Offset: int64(3 + i), Key: "k" + strconv.Itoa(n), Value: json.RawMessage(`{"n":` + strconv.Itoa(n) + `}`)}
		if r.Topic != want.Topic || r.Partition != 1 || r.Offset != want.Offset || r.Key != want.Key || string(r.Value) != string(want.Value) ||
			len(r.Headers) != 1 || r.Headers[0].Key != "h" || r.Headers[0].Value != strconv.Itoa(n) {
			t.Errorf("record %d: %+v, want %+v with header h=%d", i, r, want, n)
		}
	}

	_, bdir := backedUp(t)
	out, _ = mustRun(t, "cat", bdir+"/topics/orders/partition=0/orders+0+0000000000.kfr")
	recs = catLines(t, out)
	if len(recs) != 5 || recs[4].Offset != 4 || recs[4].Key != "k8" || recs[4].TimestampType != "CreateTime" || recs[4].Timestamp == 0 {
		t.Errorf("native object: %+v", recs)
	}
}

// TestCatUsage: a URL that does not end in a values object is a one-line
// usage error.
func TestCatUsage(t *testing.T) {
	dir := exported(t, kafkatest.NewCluster(t))
	checkUsage(t, []string{"cat"}, []usageCase{
		{"no object", nil, "kferry cat takes 1 argument(s), got 0"},
		{"not an object key", []string{dir + "/topics/orders/notes.txt"}, "does not end in an object key like topics/<topic>/partition=<p>/<topic>+<p>+<offset>.<ext>"},
		{"sidecar", []string{dir + "/topics/orders/partition=0/orders+0+0000000000.keys.json"}, "is a keys object; cat the values object"},
		{"topics dir", []string{dir + "/topics/orders/partition=0/orders+0+0000000000.json", "--topics-dir", ""}, "--topics-dir"},
	})
}
