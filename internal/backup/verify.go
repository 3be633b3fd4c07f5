package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/objset"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
)

// ErrVerify means verification found problems; the report lists them.
var ErrVerify = errors.New("verification failed")

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Key decrypts an encrypted backup.
	Key      *seal.Key
	BackupID string
	// Kafka, if set, compares the backup record by record with the live topics
	// (renamed by Renames, e.g. the targets of a restore).
	Kafka   *kafka.Client
	Renames layout.Renames
	Topics  []string // restrict to these backed-up topics; nil = all
	// Strict fails on warnings too: recorded retention gaps and objects that no
	// manifest lists.
	Strict bool
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Backup   string   `json:"backup"`
	Objects  int      `json:"objects"`
	Records  int64    `json:"records"`
	Compared int64    `json:"compared_records"`
	Problems []string `json:"problems"`
	// Warnings are what does not make the backup wrong but is worth knowing
	// (an error with Strict): each recorded gap and each unlisted object.
	Warnings []string `json:"warnings,omitempty"`
	// Gaps are the recorded retention gaps: offsets the backup does not have.
	Gaps []GapInfo `json:"gaps,omitempty"`
	// GapOffsets is the number of offsets in Gaps.
	GapOffsets int64 `json:"gap_offsets"`
	// Unlisted are the bucket's objects that no manifest lists.
	Unlisted []UnlistedObject `json:"unlisted_objects,omitempty"`
}

// Verify checks a backup. From the manifest: each partition's objects account
// for its offsets (see coverageProblems). From the objects: each one's size,
// SHA-256 and record count, and that its records continue the partition's
// rolling digest from the object before it (so an object left out of the
// manifest is noticed even when the counts were adjusted). Missing, truncated,
// altered objects are problems, named. Recorded retention gaps and objects of
// the whole bucket that no manifest lists are warnings (problems with Strict).
// With a Kafka client it compares the backup with live topics record by
// record, naming the first differing offset.
func Verify(ctx context.Context, b *blob.Bucket, o VerifyOptions) (VerifyReport, error) {
	m, err := catalog.LoadManifest(ctx, b, o.BackupID, o.Key)
	if err != nil {
		return VerifyReport{}, err
	}
	rep := VerifyReport{Backup: m.ID}
	for _, t := range m.Topics {
		if !wanted(o.Topics, t.Name) {
			continue
		}
		for _, p := range t.Partition {
			rep.Problems = append(rep.Problems, coverageProblems(t.Name, &p)...)
			prev := ""
			for _, obj := range p.Objects {
				rep.Objects++
				rep.Records += obj.Records
				if problem := verifyObject(ctx, b, t.Name, p.Partition, obj, prev, o.Key); problem != "" {
					rep.Problems = append(rep.Problems, problem)
				}
				prev = obj.Digest
			}
		}
	}
	if m.Schemas != nil {
		if _, _, err := LoadManifestSchemas(ctx, b, m, o.Key); err != nil {
			rep.Problems = append(rep.Problems, err.Error())
		}
	}
	rep.Gaps = manifestGaps(m, o.Topics)
	for _, g := range rep.Gaps {
		rep.GapOffsets += g.Offsets
		rep.Warnings = append(rep.Warnings, g.String())
	}
	audit, err := AuditBucket(ctx, b, o.Key)
	if err != nil {
		return rep, err
	}
	for _, u := range audit.Unlisted {
		if len(o.Topics) > 0 && !wanted(o.Topics, u.Topic) {
			continue
		}
		rep.Unlisted = append(rep.Unlisted, u)
		rep.Warnings = append(rep.Warnings, u.String())
	}
	if o.Kafka != nil {
		for _, t := range m.Topics {
			if !wanted(o.Topics, t.Name) {
				continue
			}
			live := o.Renames.Apply(t.Name)
			if ok, err := o.Kafka.TopicExists(ctx, live); err != nil || !ok {
				if err != nil {
					return rep, err
				}
				rep.Problems = append(rep.Problems, missingLiveTopic(t.Name, live))
				continue
			}
			same := isSourceTopic(ctx, o, t)
			for _, p := range t.Partition {
				n, problem, err := compareLive(ctx, b, o, t.Name, p, same)
				if err != nil {
					return rep, err
				}
				rep.Compared += n
				if problem != "" {
					rep.Problems = append(rep.Problems, problem)
				}
			}
		}
	}
	if len(rep.Problems) > 0 {
		return rep, fmt.Errorf("%w: %d problems in backup %s, first: %s", ErrVerify, len(rep.Problems), m.ID, rep.Problems[0])
	}
	if o.Strict && len(rep.Warnings) > 0 {
		return rep, fmt.Errorf("%w: %d warnings in backup %s with --strict, first: %s", ErrVerify, len(rep.Warnings), m.ID, rep.Warnings[0])
	}
	return rep, nil
}

// missingLiveTopic is the problem of a backed-up topic whose live counterpart
// is not on the cluster: it names the topic and what to do.
func missingLiveTopic(topic, live string) string {
	if live == topic {
		return fmt.Sprintf("topic %s is not on the cluster: restore it first, or compare a restored copy with --rename '%s=NAME'", topic, topic)
	}
	return fmt.Sprintf("topic %s (--rename of %s) is not on the cluster: restore it first, or check --rename", live, topic)
}

func wanted(topics []string, t string) bool {
	if len(topics) == 0 {
		return true
	}
	for _, x := range topics {
		if x == t {
			return true
		}
	}
	return false
}

func nativeInfo(topic string, p int32, obj manifest.Object) catalog.ObjectInfo {
	return catalog.ObjectInfo{Key: obj.Key, Size: obj.Size, Object: layout.Object{Topic: topic, Partition: p, StartOffset: obj.FirstOffset, View: layout.ViewValues, Ext: ".kfr"}}
}

// verifyObject returns "" when obj matches the manifest, else what is wrong.
// prevDigest is the rolling digest of the object before it in the manifest
// ("" for a partition's first): obj's records must continue it to obj.Digest.
func verifyObject(ctx context.Context, b *blob.Bucket, topic string, p int32, obj manifest.Object, prevDigest string, key *seal.Key) string {
	ho, err := objset.OpenHashed(ctx, b, nativeInfo(topic, p, obj), key)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return "missing object " + obj.Key
		}
		return fmt.Sprintf("unreadable object %s: %v", obj.Key, err)
	}
	defer ho.Close()
	digest, _ := manifest.ParseDigest(prevDigest) // a bad one is reported on its own object
	var n int64
	for {
		var rec record.Record
		err := ho.Next(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			ho.Drain() // count what is there to tell truncated from altered
			kind := "altered"
			if ho.Size() < obj.Size {
				kind = "truncated"
			}
			return fmt.Sprintf("%s object %s (%d of %d bytes): %s", kind, obj.Key, ho.Size(), obj.Size, clip(strings.TrimPrefix(err.Error(), "object "+obj.Key+": "), 160))
		}
		if obj.Digest != "" {
			digest = manifest.Roll(digest, &rec)
		}
		n++
	}
	if err := ho.Check(obj, n); err != nil {
		if ho.Size() < obj.Size {
			return "truncated object " + strings.TrimPrefix(err.Error(), objset.ErrChecksum.Error()+": ")
		}
		return "altered object " + strings.TrimPrefix(err.Error(), objset.ErrChecksum.Error()+": ")
	}
	if obj.Digest != "" && manifest.HexDigest(digest) != obj.Digest {
		return fmt.Sprintf("object %s does not continue the records of the object before it in the manifest (rolling digest differs): objects between them are missing from the manifest", obj.Key)
	}
	return ""
}

// isSourceTopic reports whether the live topic that t is compared with is the
// very topic the backup was read from (same Kafka topic id), whose offsets must
// match too. A restored copy has offsets of its own (transaction markers, no
// compaction gaps), even under the same name or on the same cluster.
func isSourceTopic(ctx context.Context, o VerifyOptions, t manifest.Topic) bool {
	live := o.Renames.Apply(t.Name)
	if live != t.Name || strings.Trim(t.ID, "0") == "" {
		return false
	}
	d, err := o.Kafka.DescribeTopics(ctx, []string{live})
	if err != nil {
		return false // a missing topic is reported by compareLive
	}
	return d[live].ID == t.ID
}

// compareLive streams the backup of one partition next to the live topic and
// reports the first record that differs in key, value, headers or timestamp
// (and offset, when same says the live topic is the backup's source).
func compareLive(ctx context.Context, b *blob.Bucket, o VerifyOptions, topic string, p manifest.Partition, same bool) (int64, string, error) {
	live := o.Renames.Apply(topic)
	ranges, err := o.Kafka.Ranges(ctx, []string{live})
	if err != nil {
		return 0, "", err
	}
	var pr *kafka.PartitionRange
	for i := range ranges {
		if ranges[i].Partition == p.Partition {
			pr = &ranges[i]
		}
	}
	if pr == nil {
		return 0, fmt.Sprintf("%s/%d: partition missing on the cluster", live, p.Partition), nil
	}
	src := &manifestRecords{ctx: ctx, b: b, topic: topic, p: p, key: o.Key}
	defer src.close()
	if same {
		pr.Start = max(pr.Start, p.StartOffset)
		pr.End = min(pr.End, p.EndOffset)
	}
	rd, err := kafka.NewReader(ctx, o.Kafka.Config())
	if err != nil {
		return 0, "", err
	}
	defer rd.Close()
	var n int64
	var problem string
	errStop := errors.New("stop")
	err = rd.Read(ctx, *pr, func(batch []*record.Record) error {
		for _, got := range batch {
			want, err := src.next()
			if errors.Is(err, io.EOF) {
				problem = fmt.Sprintf("%s/%d: offset %d is not in the backup (the live partition has more records)", live, p.Partition, got.Offset)
				return errStop
			}
			if err != nil {
				return err
			}
			if d := differs(want, got, same); d != "" {
				problem = fmt.Sprintf("%s/%d: first difference at backup offset %d (live offset %d): %s", live, p.Partition, want.Offset, got.Offset, d)
				return errStop
			}
			n++
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return n, "", err
	}
	if problem == "" {
		if want, err := src.next(); err == nil {
			problem = fmt.Sprintf("%s/%d: backup offset %d and later are missing from the live partition", live, p.Partition, want.Offset)
		}
	}
	return n, problem, nil
}

func differs(want, got *record.Record, offsets bool) string {
	switch {
	case offsets && want.Offset != got.Offset:
		return fmt.Sprintf("offset %d vs %d", want.Offset, got.Offset)
	case !sameBytes(want.Key, got.Key):
		return "key differs"
	case !sameBytes(want.Value, got.Value):
		return "value differs"
	case len(want.Headers) != len(got.Headers):
		return fmt.Sprintf("%d headers vs %d", len(want.Headers), len(got.Headers))
	case !want.Timestamp.Equal(got.Timestamp):
		return fmt.Sprintf("timestamp %d vs %d", want.Timestamp.UnixMilli(), got.Timestamp.UnixMilli())
	}
	for i := range want.Headers {
		if want.Headers[i].Key != got.Headers[i].Key || !sameBytes(want.Headers[i].Value, got.Headers[i].Value) {
			return fmt.Sprintf("header %d (%q) differs", i, want.Headers[i].Key)
		}
	}
	return ""
}

func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

// manifestRecords pulls one partition's backed-up records in order, object by
// object.
type manifestRecords struct {
	key   *seal.Key
	ctx   context.Context
	b     *blob.Bucket
	topic string
	p     manifest.Partition
	i     int
	cur   *objset.Reader
}

func (m *manifestRecords) next() (*record.Record, error) {
	for {
		if m.cur == nil {
			if m.i >= len(m.p.Objects) {
				return nil, io.EOF
			}
			or, err := objset.OpenObject(m.ctx, m.b, nativeInfo(m.topic, m.p.Partition, m.p.Objects[m.i]), m.key)
			if err != nil {
				return nil, err
			}
			m.cur, m.i = or, m.i+1
		}
		rec := &record.Record{}
		err := m.cur.Next(rec)
		if errors.Is(err, io.EOF) {
			m.cur.Close()
			m.cur = nil
			continue
		}
		return rec, err
	}
}

func (m *manifestRecords) close() {
	if m.cur != nil {
		m.cur.Close()
	}
}

// clip shortens decoder messages that quote whole schemas.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
