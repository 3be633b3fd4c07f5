package e2e

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/record"
)

// backupTopics are the topics of the backup tests' source cluster.
var backupTopics = []string{"orders", "payments", "audit-log"}

// source is a cluster filled for a backup test: what it holds, per topic and
// partition in offset order, and the consumer groups' committed offsets.
type source struct {
	c          cluster
	brokers    string
	partitions int32
	perPart    int // records in each partition
	base       time.Time
	records    map[string]map[int32][]record.Record
	groups     map[string]map[string]map[int32]int64 // group → topic → partition → offset
	total      int
}

// newSource starts a cluster with backupTopics of the given partition count, n
// records in every partition, and two consumer groups with offsets at the start,
// inside and at the end of partitions.
func newSource(t *testing.T, partitions int32, n int) *source {
	t.Helper()
	return newSourceOn(t, pickCluster(t), partitions, n)
}

// newSourceOn is newSource on a given cluster.
func newSourceOn(t *testing.T, c cluster, partitions int32, n int) *source {
	t.Helper()
	brokers := withTopics(t, c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := &source{c: c, brokers: brokers, partitions: partitions, base: time.Now().Add(-72 * time.Hour).Truncate(time.Millisecond), groups: map[string]map[string]map[int32]int64{}}
	for _, topic := range backupTopics {
		if err := c.CreateTopic(ctx, topic, partitions); err != nil {
			t.Fatalf("create topic %s: %v", topic, err)
		}
	}
	s.grow(t, n)

	// billing reads every partition: at the start, inside, at the end, in turn;
	// audit only the first topic.
	var offs []kafka.GroupOffset
	for ti, topic := range backupTopics {
		for p := range partitions {
			at := []int64{0, int64(n/3 + 17*ti + 1), int64(n)}[int(p)%3]
			offs = append(offs, kafka.GroupOffset{Group: "billing", Topic: topic, Partition: p, Offset: at})
		}
	}
	for p := range partitions {
		offs = append(offs, kafka.GroupOffset{Group: "audit", Topic: backupTopics[0], Partition: p, Offset: int64(n-1) - int64(p)*int64(n/4)})
	}
	w, err := kafka.NewTxnWriter(ctx, c.Config(), "", kafka.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.CommitPlain(ctx, offs); err != nil {
		t.Fatalf("commit group offsets: %v", err)
	}
	for _, o := range offs {
		if s.groups[o.Group] == nil {
			s.groups[o.Group] = map[string]map[int32]int64{}
		}
		if s.groups[o.Group][o.Topic] == nil {
			s.groups[o.Group][o.Topic] = map[int32]int64{}
		}
		s.groups[o.Group][o.Topic][o.Partition] = o.Offset
	}
	return s
}

// grow produces n more records into every partition and reads the source back.
func (s *source) grow(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var recs []record.Record
	for ti, topic := range backupTopics {
		for p := range s.partitions {
			for i := s.perPart; i < s.perPart+n; i++ {
				recs = append(recs, sourceRecord(topic, p, i, s.base.Add(time.Duration(ti)*time.Hour)))
			}
		}
	}
	if err := s.c.Produce(ctx, recs); err != nil {
		t.Fatalf("produce %d records: %v", len(recs), err)
	}
	s.perPart += n
	s.total += len(recs)
	s.records = readTopics(t, s.c.Config(), backupTopics)
	for _, topic := range backupTopics {
		for p := range s.partitions {
			if got := len(s.records[topic][p]); got != s.perPart {
				t.Fatalf("source %s/%d holds %d records, want %d", topic, p, got, s.perPart)
			}
		}
	}
}

// sourceRecord is record i of a partition: every field varies, with null and
// empty keys and values (tombstones), binary bytes, duplicate and null headers,
// records without headers and timestamps out of order.
func sourceRecord(topic string, p int32, i int, base time.Time) record.Record {
	rec := record.Record{
		Topic: topic, Partition: p,
		Timestamp: base.Add(time.Duration(i) * time.Millisecond),
		Key:       fmt.Appendf(nil, "key-%s-%d-%d", topic, p, i),
		Value:     append(fmt.Appendf(nil, `{"topic":%q,"p":%d,"i":%d}`, topic, p, i), 0x00, 0xff, byte(i)),
		Headers: []record.Header{
			{Key: "trace", Value: fmt.Appendf(nil, "t-%d", i)},
			{Key: "dup", Value: []byte("1")},
			{Key: "dup", Value: nil},
			{Key: "bin-hdr", Value: []byte{0x00, 0xfe, byte(i >> 8), byte(i)}},
		},
	}
	switch i % 50 {
	case 7:
		rec.Key = nil
	case 8:
		rec.Key = []byte{}
	}
	switch {
	case i%97 == 3:
		rec.Value = nil // tombstone
	case i%89 == 5:
		rec.Value = []byte{}
	}
	if i%7 == 0 {
		rec.Headers = nil
	}
	if i%13 == 0 {
		rec.Timestamp = rec.Timestamp.Add(-time.Hour) // out of order
	}
	return rec
}

// readTopics reads every committed record of the topics (read_committed).
func readTopics(t *testing.T, cfg kafka.Config, topics []string) map[string]map[int32][]record.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := map[string]map[int32][]record.Record{}
	for _, topic := range topics {
		out[topic] = map[int32][]record.Record{}
		err := kafkatest.EachRecord(ctx, cfg, topic, func(rec *record.Record) error {
			cp := *rec
			out[topic][rec.Partition] = append(out[topic][rec.Partition], cp)
			return nil
		})
		if err != nil {
			t.Fatalf("read %s: %v", topic, err)
		}
	}
	return out
}

// fingerprint identifies a record by everything but its offset.
func fingerprint(r *record.Record) string {
	var b strings.Builder
	field := func(v []byte) {
		if v == nil {
			b.WriteString("null|")
			return
		}
		fmt.Fprintf(&b, "%q|", v)
	}
	field(r.Key)
	field(r.Value)
	for _, h := range r.Headers {
		fmt.Fprintf(&b, "%q=", h.Key)
		field(h.Value)
	}
	fmt.Fprintf(&b, "@%d", r.Timestamp.UnixMilli())
	return b.String()
}

// compareRecords reports how got (a restored copy) differs from want (the
// source), partition by partition: counts, duplicates, missing records and the
// first record out of place. Offsets are not compared (a restore gets its own).
func compareRecords(want, got map[string]map[int32][]record.Record) []string {
	var problems []string
	topics := map[string]bool{}
	for t := range want {
		topics[t] = true
	}
	for t := range got {
		topics[t] = true
	}
	for _, topic := range sortedKeys(topics) {
		parts := map[int32]bool{}
		for p := range want[topic] {
			parts[p] = true
		}
		for p := range got[topic] {
			parts[p] = true
		}
		for _, p := range sortedKeys(parts) {
			w, g := want[topic][p], got[topic][p]
			if problem := comparePartition(w, g); problem != "" {
				problems = append(problems, fmt.Sprintf("%s/%d: %s", topic, p, problem))
			}
		}
	}
	return problems
}

func comparePartition(want, got []record.Record) string {
	first := -1
	for i := range min(len(want), len(got)) {
		if fingerprint(&want[i]) != fingerprint(&got[i]) {
			first = i
			break
		}
	}
	if first < 0 && len(want) == len(got) {
		return ""
	}
	counts := map[string]int{}
	for i := range want {
		counts[fingerprint(&want[i])]++
	}
	dups, extra := 0, 0
	for i := range got {
		f := fingerprint(&got[i])
		switch n, ok := counts[f]; {
		case !ok:
			extra++
		case n <= 0:
			dups++
		}
		counts[f]--
	}
	missing := 0
	for _, n := range counts {
		missing += max(n, 0)
	}
	msg := fmt.Sprintf("%d records, want %d (%d duplicates, %d missing, %d unknown)", len(got), len(want), dups, missing, extra)
	if first >= 0 {
		msg += fmt.Sprintf("; first difference at record %d: got %s, want %s", first, fingerprint(&got[first]), fingerprint(&want[first]))
	}
	return msg
}

func sortedKeys[K string | int32](m map[K]bool) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// checkGroups asserts that every group offset of the source landed on the same
// record of the target: a committed source offset O becomes the target offset
// of the first record whose source offset is ≥ O; when there is none, the end
// of the target partition (after the last commit marker, so the group does not
// lag by one).
func checkGroups(t *testing.T, s *source, target kafka.Config, restored map[string]map[int32][]record.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kc, err := kafka.Dial(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	ends := map[string]map[int32]int64{}
	var topics []string
	for topic := range s.records {
		topics = append(topics, topic)
	}
	ranges, err := kc.Ranges(ctx, topics)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ranges {
		if ends[r.Topic] == nil {
			ends[r.Topic] = map[int32]int64{}
		}
		ends[r.Topic][r.Partition] = r.End
	}
	for group, topics := range s.groups {
		var names []string
		for topic := range topics {
			names = append(names, topic)
		}
		got, err := kc.CommittedOffsets(ctx, group, names)
		if err != nil {
			t.Fatalf("group %s on the target: %v", group, err)
		}
		for topic, parts := range topics {
			for p, srcOff := range parts {
				src, dst := s.records[topic][p], restored[topic][p]
				have, ok := got[topic][p]
				if !ok {
					t.Errorf("group %s has no offset on the target's %s/%d (source offset %d)", group, topic, p, srcOff)
					continue
				}
				i := sort.Search(len(src), func(i int) bool { return src[i].Offset >= srcOff })
				switch {
				case i >= len(dst) && i < len(src):
					t.Errorf("group %s on %s/%d: record %d of the source is not on the target", group, topic, p, i)
				case i < len(src):
					if have != dst[i].Offset {
						t.Errorf("group %s on %s/%d: target offset %d, want %d (the record at source offset %d)", group, topic, p, have, dst[i].Offset, src[i].Offset)
					}
				default:
					if have != ends[topic][p] {
						t.Errorf("group %s on %s/%d: target offset %d, want the end of the partition %d (the source offset %d is past every record)", group, topic, p, have, ends[topic][p], srcOff)
					}
				}
			}
		}
	}
}

var backupIDRE = regexp.MustCompile(`(?m)^backup (\S+) written`)

// backupID returns the id a successful backup run printed.
func backupID(t *testing.T, r result) string {
	t.Helper()
	m := backupIDRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("backup printed no id\n%s", r)
	}
	return m[1]
}

// bucketFiles lists a file:// bucket's native objects (keys) and manifest ids.
func bucketFiles(dir string) (objects, manifests []string, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a temporary file renamed meanwhile
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		key, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		key = filepath.ToSlash(key)
		if strings.HasSuffix(key, ".kfr") {
			objects = append(objects, key)
		}
		if id, ok := manifest.IDFromKey(key); ok {
			manifests = append(manifests, id)
		}
		return nil
	})
	return objects, manifests, err
}

// checkBackup asserts that manifest id in the file:// bucket at dir covers every
// record of src exactly once: each partition's objects follow each other without
// overlap or hole from offset 0 to the end, their counts add up, every object
// exists and every native object of the bucket is in the manifest.
func checkBackup(t *testing.T, dir, id, parent string, src *source) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(manifest.Key(id))))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Unmarshal(body)
	if err != nil {
		t.Fatal(err)
	}
	if m.Parent != parent {
		t.Errorf("manifest %s: parent %q, want %q", id, m.Parent, parent)
	}
	objects, _, err := bucketFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	inBucket := map[string]bool{}
	for _, k := range objects {
		inBucket[k] = true
	}
	if len(m.Topics) != len(backupTopics) {
		t.Errorf("manifest %s holds %d topics, want %v", id, len(m.Topics), backupTopics)
	}
	for _, topic := range backupTopics {
		if m.Topic(topic) == nil {
			t.Errorf("manifest %s lacks topic %s", id, topic)
		}
	}
	named := map[string]bool{}
	for _, topic := range m.Topics {
		if topic.Partitions != int(src.partitions) || len(topic.Partition) != int(src.partitions) {
			t.Errorf("manifest %s: %s has %d partitions (%d entries), want %d", id, topic.Name, topic.Partitions, len(topic.Partition), src.partitions)
		}
		for _, p := range topic.Partition {
			want := int64(len(src.records[topic.Name][p.Partition]))
			if p.StartOffset != 0 || p.EndOffset != want || p.Records != want {
				t.Errorf("manifest %s: %s/%d covers offsets %d-%d with %d records, want 0-%d with %d", id, topic.Name, p.Partition, p.StartOffset, p.EndOffset, p.Records, want, want)
			}
			next, sum := p.StartOffset, int64(0)
			for _, o := range p.Objects {
				if named[o.Key] {
					t.Errorf("manifest %s names object %s twice", id, o.Key)
				}
				named[o.Key] = true
				if !inBucket[o.Key] {
					t.Errorf("manifest %s names object %s, which is not in the bucket", id, o.Key)
				}
				if o.FirstOffset != next {
					t.Errorf("manifest %s: %s/%d: object %s starts at %d, want %d (overlap or hole)", id, topic.Name, p.Partition, o.Key, o.FirstOffset, next)
				}
				if o.Records != o.LastOffset-o.FirstOffset+1 {
					t.Errorf("manifest %s: object %s holds %d records for offsets %d-%d", id, o.Key, o.Records, o.FirstOffset, o.LastOffset)
				}
				next, sum = o.LastOffset+1, sum+o.Records
			}
			if next != p.EndOffset || sum != p.Records {
				t.Errorf("manifest %s: %s/%d: objects end at %d with %d records, want %d with %d", id, topic.Name, p.Partition, next, sum, p.EndOffset, p.Records)
			}
		}
	}
	for _, k := range objects {
		if !named[k] {
			t.Errorf("object %s is in the bucket but not in manifest %s (a duplicate or a leftover of the killed run)", k, id)
		}
	}
	t.Logf("manifest %s: %d objects, each in the bucket, no other native object there", id, len(named))
}

// mustVerify runs kferry verify on the bucket and wants backup id intact.
func mustVerify(t *testing.T, url, id string) {
	t.Helper()
	r := kferry(t, runOpts{timeout: 2 * time.Minute}, "verify", url)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "backup "+id+":") || !strings.Contains(r.stdout, "ok: every object matches the manifest") {
		t.Errorf("verify does not report backup %s intact:\n%s", id, r)
	}
}
