package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kferry/kferry/pkg/record"
)

// TestLsAndCat exports what kcat produced to S3 and inspects the bucket: ls shows
// every partition's objects and sidecars, cat prints an object's records as JSON
// lines with the values, keys and headers kcat produced.
// (Longer than 80 lines on purpose: one scenario whose steps build on the
// state the previous ones left; read top-down, it is the story it checks.)
func TestLsAndCat(t *testing.T) {
	needKcat(t)
	needS3(t)
	t.Parallel()
	_, brokers := newCluster(t, map[string]int32{"inspect": 8})
	hdrs := []header{{"trace", str("t-1")}, {"empty", str("")}, {"nullhdr", nil}}
	batches := []batch{
		{partition: 2, headers: hdrs, records: [][2]string{
			{"k0", `{"html":"<b>&amp;</b>","n":1}`},
			{"k1", `{"n":2,"list":[1,2.5,"x"]}`},
			{"k2", `"just a string"`},
			{"k3", `42`},
			{"k4", `{"unicode":"日本語 ✓"}`},
			{"k5", `{"n":6}`},
			{"k6", `{"n":7}`},
		}},
		{partition: 6, records: [][2]string{{"only", `{"alone":true}`}}},
	}
	want := kcatProduce(t, brokers, "inspect", batches)
	bucket := createBucket(t)
	mustSucceed(t, kferry(t, runOpts{env: rootEnv()}, "export", "--brokers", brokers, "--topics", "inspect",
		"--format", "json", "--store-keys", "--store-headers", "--flush-size", "5", "--to", s3URL(bucket)))

	t.Run("ls", func(t *testing.T) {
		r := kferry(t, runOpts{env: rootEnv()}, "ls", s3URL(bucket))
		mustSucceed(t, r)
		var rows []string
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
			rows = append(rows, strings.Join(strings.Fields(l), " "))
		}
		// TOPIC PARTITION OBJECTS FIRST-START LAST-START BYTES SIDECARS; bytes vary.
		if len(rows) != 2 || !strings.HasPrefix(rows[0], "inspect 2 2 0 5 ") || !strings.HasSuffix(rows[0], " keys:2 headers:2") ||
			!strings.HasPrefix(rows[1], "inspect 6 1 0 0 ") || !strings.HasSuffix(rows[1], " keys:1 headers:1") {
			t.Errorf("ls table:\n%s", r.stdout)
		}

		r = kferry(t, runOpts{env: rootEnv()}, "ls", "--json", s3URL(bucket))
		mustSucceed(t, r)
		type part struct {
			Topic         string `json:"topic"`
			Partition     int32  `json:"partition"`
			Objects       int    `json:"objects"`
			FirstStart    int64  `json:"first_start_offset"`
			LastStart     int64  `json:"last_start_offset"`
			KeysObjects   int    `json:"keys_objects"`
			HeaderObjects int    `json:"headers_objects"`
		}
		var got struct {
			Partitions []part `json:"partitions"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("ls --json: %v\n%s", err, r.stdout)
		}
		wantParts := []part{
			{Topic: "inspect", Partition: 2, Objects: 2, FirstStart: 0, LastStart: 5, KeysObjects: 2, HeaderObjects: 2},
			{Topic: "inspect", Partition: 6, Objects: 1, FirstStart: 0, LastStart: 0, KeysObjects: 1, HeaderObjects: 1},
		}
		if diff := cmp.Diff(wantParts, got.Partitions); diff != "" {
			t.Errorf("ls --json (-want +got):\n%s", diff)
		}
	})

	t.Run("cat", func(t *testing.T) {
		objURL := func(key string) string {
			return "s3://" + bucket + "/" + key + "?endpoint=" + env.s3Endpoint + "&use_path_style=true&region=us-east-1"
		}
		for _, tc := range []struct {
			key       string
			partition int32
			first     int
			n         int
		}{
			{"topics/inspect/partition=2/inspect+2+0000000000.json", 2, 0, 5},
			{"topics/inspect/partition=2/inspect+2+0000000005.json", 2, 5, 2},
			{"topics/inspect/partition=6/inspect+6+0000000000.json", 6, 0, 1},
		} {
			r := kferry(t, runOpts{env: rootEnv()}, "cat", objURL(tc.key))
			mustSucceed(t, r)
			type hdr struct {
				Key   string  `json:"key"`
				Value *string `json:"value"`
			}
			type line struct {
				Topic     string          `json:"topic"`
				Partition int32           `json:"partition"`
				Offset    int64           `json:"offset"`
				Key       *string         `json:"key"`
				Value     json.RawMessage `json:"value"`
				Headers   []hdr           `json:"headers"`
			}
			var got, wantLines []line
			sc := bufio.NewScanner(strings.NewReader(r.stdout))
			for sc.Scan() {
				var l line
				if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
					t.Fatalf("cat line %q: %v", sc.Text(), err)
				}
				got = append(got, l)
			}
			for i, m := range want[tc.partition][tc.first : tc.first+tc.n] {
				l := line{Topic: "inspect", Partition: tc.partition, Offset: int64(tc.first + i), Key: m.Key, Value: json.RawMessage(*m.Value)}
				for _, h := range m.Headers {
					l.Headers = append(l.Headers, hdr(h))
				}
				wantLines = append(wantLines, l)
			}
			// Values compare byte for byte: cat prints JSON values as they are. No
			// headers may be printed as [] or left out.
			if diff := cmp.Diff(wantLines, got, cmpopts.EquateEmpty(), cmp.Transformer("raw", func(m json.RawMessage) string { return string(m) })); diff != "" {
				t.Errorf("cat %s (-want +got):\n%s", tc.key, diff)
			}
		}

		r := kferry(t, runOpts{env: rootEnv()}, "cat", objURL("topics/inspect/partition=2/inspect+2+0000000000.keys.json"))
		wantError(t, r, 2, "keys")
		r = kferry(t, runOpts{env: rootEnv()}, "cat", objURL("topics/inspect/partition=2/inspect+2+0000000099.json"))
		wantError(t, r, 1, "inspect+2+0000000099.json")
	})
}

// TestCatNative (issue 16.13): cat of a native backup object prints each
// record's own offset, timestamp and timestamp type.
func TestCatNative(t *testing.T) {
	t.Parallel()
	c, brokers := newCluster(t, map[string]int32{"stamped": 1})
	// Recent: Kafka deletes records stamped before its retention (7 days).
	base := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	var recs []record.Record
	for i := range 3 {
		recs = append(recs, record.Record{Topic: "stamped", Key: []byte("k"), Value: []byte(`{"i":` + strconv.Itoa(i) + `}`), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	url, _ := fileURL(t)
	mustSucceed(t, kferry(t, runOpts{}, "backup", "--brokers", brokers, "--to", url))
	r := kferry(t, runOpts{}, "cat", url+"/topics/stamped/partition=0/stamped+0+0000000000.kfr")
	mustSucceed(t, r)
	type line struct {
		Offset        int64  `json:"offset"`
		Timestamp     *int64 `json:"timestamp"`
		TimestampType string `json:"timestamp_type"`
	}
	var got []line
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("cat line %q: %v", sc.Text(), err)
		}
		got = append(got, l)
	}
	var want []line
	for i := range 3 {
		ms := base.Add(time.Duration(i) * time.Second).UnixMilli()
		want = append(want, line{Offset: int64(i), Timestamp: &ms, TimestampType: "CreateTime"})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cat (-want +got):\n%s\n%s", diff, r)
	}
}
