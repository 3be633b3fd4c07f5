package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kferry/kferry/pkg/record"
)

const (
	faultTopic = "faults"
	// faultPartitions: partition 0 holds large records, so that its first object
	// (faultFlush records) passes the 16 MiB from which uploads are multipart;
	// the others hold small ones in several objects each.
	faultPartitions = 4
	faultFlush      = 200
	bigRecords      = 220
	bigValueBytes   = 128 << 10 // random base64: a native object of 200 stays past 16 MiB compressed
	smallRecords    = 500
	// faultStall is the stall timeout the runs get (KFERRY_S3_STALL_TIMEOUT), so
	// that a request the proxy holds for 30 s fails after this and is retried.
	faultStall = "3s"
	// faultSeed fixes the proxy's choices of requests to fail.
	faultSeed = 20260101
)

// faultSource starts a cluster holding faultTopic: large records in partition
// 0, small ones in the others, keys and headers throughout.
func faultSource(t *testing.T, big, small int) (cluster, string) {
	t.Helper()
	c, brokers := newCluster(t, map[string]int32{faultTopic: faultPartitions})
	rng := rand.New(rand.NewPCG(faultSeed, 1))
	raw := make([]byte, bigValueBytes*3/4)
	var recs []record.Record
	for p := range int32(faultPartitions) {
		n := small
		if p == 0 {
			n = big
		}
		for i := range n {
			value := fmt.Sprintf(`{"p":%d,"i":%d,"text":"h\u00e9llo"}`, p, i)
			if p == 0 {
				for j := range raw {
					raw[j] = byte(rng.Uint32())
				}
				value = fmt.Sprintf(`{"p":0,"i":%d,"pad":"%s"}`, i, base64.StdEncoding.EncodeToString(raw))
			}
			rec := record.Record{Topic: faultTopic, Partition: p, Key: fmt.Appendf(nil, `"key-%d-%d"`, p, i), Value: []byte(value)}
			if i%3 != 0 {
				rec.Headers = []record.Header{{Key: "trace", Value: fmt.Appendf(nil, "t-%d", i)}, {Key: "src", Value: []byte("faults")}}
			}
			recs = append(recs, rec)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Produce(ctx, recs); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return c, brokers
}

// faultEnv is the environment of a run through the proxy.
func faultEnv(extra ...string) []string {
	return append(append(rootEnv(), "KFERRY_S3_STALL_TIMEOUT="+faultStall), extra...)
}

// faultRun is one row of the fault table the tests log.
type faultRun struct {
	run     string
	faults  injected // S3 faults
	kafka   string   // Kafka faults
	elapsed time.Duration
	outcome string
}

func logFaultTable(t *testing.T, rows []faultRun) {
	t.Helper()
	var b strings.Builder
	b.WriteString("\n| run | faults injected | time | outcome |\n|---|---|---|---|\n")
	for _, r := range rows {
		injected := r.kafka
		if r.faults.counts != nil {
			injected = r.faults.String()
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.run, injected, r.elapsed.Round(100*time.Millisecond), r.outcome)
	}
	t.Log(b.String())
}

// TestS3Faults is the acceptance for S3 faults: export (json, keys and
// headers), import, backup and restore run through a proxy that answers 503
// SlowDown to 20% of requests, resets PUTs mid-body and stalls one request per
// run for 30 s; every run succeeds, the buckets hold each object once, the
// copies hold exactly the source records, and no multipart upload is left.
func TestS3Faults(t *testing.T) {
	needS3(t)
	t.Parallel()
	src, brokers := faultSource(t, bigRecords, smallRecords)
	want := readTopics(t, src.Config(), []string{faultTopic})[faultTopic]
	proxy := newFaultProxy(t, faultSeed)
	exportBucket, backupBucket := createBucket(t), createBucket(t)
	var rows []faultRun
	defer func() { logFaultTable(t, rows) }()
	run := func(name string, f faults, args ...string) result {
		t.Helper()
		proxy.arm(f)
		r := kferry(t, runOpts{env: faultEnv(), timeout: 3 * time.Minute}, args...)
		row := faultRun{run: name, faults: proxy.arm(faults{}), elapsed: r.elapsed, outcome: "exit " + fmt.Sprint(r.code)}
		rows = append(rows, row)
		mustSucceed(t, r)
		for _, b := range []string{exportBucket, backupBucket} {
			if left := incompleteUploads(t, b); len(left) > 0 {
				t.Errorf("after %s, %s holds incomplete multipart uploads: %v", name, b, left)
			}
		}
		if c := row.faults.counts; c["stall PUT mid-body"]+c["stall GET mid-body"] != 1 {
			t.Errorf("%s: the proxy injected %s; want one stall", name, row.faults)
		}
		if r.elapsed >= stallFor {
			t.Errorf("%s took %s: the stalled request was waited out, not timed out; stalled: %q\n%s", name, r.elapsed, row.faults.stalls, r.stderr)
		}
		return r
	}
	all := faults{slowDown: 0.2, reset: 0.15}
	withStall := func(f faults, get bool) faults {
		f.stallGet, f.stallPut = get, !get
		return f
	}

	run("export json, keys, headers", withStall(all, false), "export", "--brokers", brokers, "--topics", faultTopic, "--format", "json",
		"--store-keys", "--store-headers", "--flush-size", fmt.Sprint(faultFlush), "--to", proxy.bucketURL(exportBucket))
	rows[len(rows)-1].outcome += "; " + checkExportObjects(t, exportBucket, want)

	run("import", withStall(all, true), "import", "--brokers", brokers, "--from", proxy.bucketURL(exportBucket), "--rename", faultTopic+"=imported")
	got := readTopics(t, src.Config(), []string{"imported"})["imported"]
	rows[len(rows)-1].outcome += "; " + sameTopic(t, faultTopic, want, got, false)

	r := run("backup", withStall(all, false), "backup", "--brokers", brokers, "--topics", faultTopic, "--flush-size", fmt.Sprint(faultFlush), "--to", proxy.bucketURL(backupBucket))
	id := backupID(t, r)
	v := kferry(t, runOpts{env: rootEnv()}, "verify", s3URL(backupBucket))
	mustSucceed(t, v)
	if !strings.Contains(v.stdout, "backup "+id+":") || !strings.Contains(v.stdout, "ok: every object matches the manifest") {
		t.Errorf("verify (direct, no faults) does not find backup %s intact:\n%s", id, v)
	}
	native := 0
	for _, k := range listObjects(t, backupBucket) {
		if strings.HasSuffix(k, ".kfr") {
			native++
		}
	}
	if wantObjects := 2 + (faultPartitions-1)*3; native != wantObjects {
		t.Errorf("backup bucket holds %d native objects, want %d", native, wantObjects)
	}
	rows[len(rows)-1].outcome += fmt.Sprintf("; verify ok, %d native objects, each once", native)

	target, targetBrokers := newCluster(t, nil)
	run("restore", withStall(all, true), "restore", "--from", proxy.bucketURL(backupBucket), "--brokers", targetBrokers)
	restored := readTopics(t, target.Config(), []string{faultTopic})[faultTopic]
	rows[len(rows)-1].outcome += "; " + sameTopic(t, faultTopic, want, restored, true)

	total := map[string]int{}
	for _, r := range rows {
		for name, n := range r.faults.counts {
			total[name] += n
		}
	}
	if total["503 SlowDown"] == 0 || total["reset PUT mid-body"] == 0 {
		t.Errorf("the runs met %v; want SlowDowns and resets", total)
	}
}

// checkExportObjects asserts that the export bucket holds exactly the objects
// of the rotation (values, keys and headers for each start offset), each once.
func checkExportObjects(t *testing.T, bucket string, want map[int32][]record.Record) string {
	t.Helper()
	var expected []string
	for p := range int32(faultPartitions) {
		for start := 0; start < len(want[p]); start += faultFlush {
			base := fmt.Sprintf("topics/%s/partition=%d/%s+%d+%010d", faultTopic, p, faultTopic, p, start)
			expected = append(expected, base+".json", base+".keys.json", base+".headers.json")
		}
	}
	var got []string
	for _, k := range listObjects(t, bucket) {
		if strings.HasPrefix(k, "topics/") {
			got = append(got, k)
		}
	}
	slices.Sort(expected)
	slices.Sort(got)
	if !slices.Equal(got, expected) {
		t.Errorf("export bucket holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(expected, "\n"))
		return "objects differ"
	}
	return fmt.Sprintf("%d objects, each once", len(got))
}

// TestS3FaultsNoProgress: when the store cannot make progress (every part
// upload fails, or every upload stalls), export fails within a bounded time
// with one error line saying why, and aborts its multipart upload.
func TestS3FaultsNoProgress(t *testing.T) {
	needS3(t)
	t.Parallel()
	_, brokers := faultSource(t, faultFlush, 10)
	proxy := newFaultProxy(t, faultSeed)
	var rows []faultRun
	defer func() { logFaultTable(t, rows) }()
	for _, tc := range []struct {
		name      string
		f         faults
		env       []string
		bound     time.Duration
		fragments []string
	}{
		{"every UploadPart 500", faults{failParts: true}, []string{"AWS_MAX_ATTEMPTS=3"}, 30 * time.Second,
			[]string{"UploadPart", "exceeded maximum number of attempts, 3", "InternalError"}},
		{"every PUT stalls", faults{stallPuts: true}, []string{"AWS_MAX_ATTEMPTS=2", "KFERRY_S3_STALL_TIMEOUT=1s"}, 30 * time.Second,
			[]string{"exceeded maximum number of attempts, 2", "connection stalled: no byte"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket := createBucket(t)
			proxy.arm(tc.f)
			r := kferry(t, runOpts{env: append(faultEnv(), tc.env...), timeout: 2 * time.Minute},
				"export", "--brokers", brokers, "--topics", faultTopic, "--format", "json", "--flush-size", fmt.Sprint(faultFlush), "--to", proxy.bucketURL(bucket))
			done := proxy.arm(faults{})
			wantError(t, r, 1, tc.fragments...)
			if r.elapsed > tc.bound {
				t.Errorf("failed after %s, want within %s", r.elapsed, tc.bound)
			}
			left := incompleteUploads(t, bucket)
			if len(left) > 0 {
				t.Errorf("incomplete multipart uploads left: %v", left)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			rows = append(rows, faultRun{run: "export, " + tc.name, faults: done, elapsed: r.elapsed,
				outcome: fmt.Sprintf("exit %d, %d incomplete uploads left: `%s`", r.code, len(left), lines[len(lines)-1])})
		})
	}
}

// TestS3FaultSilentEndpoint: an endpoint that accepts connections and never answers
// fails a run within a bounded time, with one line saying so.
func TestS3FaultSilentEndpoint(t *testing.T) {
	needS3(t)
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	url := "s3://silent?endpoint=http://" + ln.Addr().String() + "&use_path_style=true&region=us-east-1"
	r := kferry(t, runOpts{env: faultEnv("KFERRY_S3_STALL_TIMEOUT=1s")}, "ls", url)
	wantError(t, r, 1, "bucket endpoint unreachable", "sends no answer", "connection stalled")
	if r.elapsed > 15*time.Second {
		t.Errorf("failed after %s, want within 15s (5 attempts of 1s and their backoff)", r.elapsed)
	}
}
