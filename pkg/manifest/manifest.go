package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
)

// FormatVersion is the manifest version kferry writes (major.minor). Readers
// refuse an unknown major version and accept newer minors.
//
// 1.1 added Topic.DeletedIn; a 1.0 manifest reads as one whose topics all
// still existed.
const FormatVersion = "1.1"

// Prefix is the folder of the bucket that holds manifests.
const Prefix = "_kferry/backups/"

// ErrVersion is returned for a manifest of a major version this kferry cannot read.
var ErrVersion = errors.New("unsupported manifest version")

// ErrNoBackup is returned when a bucket holds no manifest (or not the one asked for).
var ErrNoBackup = errors.New("no backup")

// Manifest describes one backup run and, because backups are incremental, every
// object the backup consists of (including those written by earlier runs).
type Manifest struct {
	FormatVersion string    `json:"format_version"`
	ID            string    `json:"id"`
	Parent        string    `json:"parent,omitempty"`
	KferryVersion string    `json:"kferry_version"`
	ClusterID     string    `json:"cluster_id,omitempty"`
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished"`
	// MinTimestamp and MaxTimestamp bound the record timestamps of all objects
	// (Unix ms; 0 when the backup holds no records).
	MinTimestamp int64    `json:"min_timestamp"`
	MaxTimestamp int64    `json:"max_timestamp"`
	Topics       []Topic  `json:"topics"`
	Groups       []Group  `json:"groups,omitempty"`
	Warnings     []string `json:"warnings,omitempty"`
	// Encryption is set when the backup's objects (and this manifest) are encrypted.
	Encryption *Encryption `json:"encryption,omitempty"`
	// Schemas names the schemas file a backup made with a Schema Registry
	// wrote (since format 1.1, kferry 0.x: absent in older manifests).
	Schemas *SchemasFile `json:"schemas,omitempty"`
}

// SchemasFile is the file of the Schema Registry schemas a backup's records
// name: its key, the SHA-256 of its bytes as stored (sealed when the backup
// is encrypted) and how many schemas it holds.
type SchemasFile struct {
	Key     string `json:"key"`
	SHA256  string `json:"sha256"`
	Schemas int    `json:"schemas"`
}

// Topic is one backed-up topic.
type Topic struct {
	Name              string `json:"name"`
	ID                string `json:"id,omitempty"` // Kafka topic id, to notice a deleted and recreated topic
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	// Configs holds the topic's non-default configs (cleanup.policy, retention.ms…).
	Configs   map[string]string `json:"configs,omitempty"`
	Partition []Partition       `json:"partition_details"`
	// DeletedIn is the id of the first backup that found the topic gone from
	// the cluster (since format 1.1; empty: it existed at this backup). Its
	// data stays in the backup; restore skips it unless asked.
	DeletedIn string `json:"deleted_in,omitempty"`
}

// Deleted reports whether the topic was gone from the cluster by this backup.
func (t *Topic) Deleted() bool { return t.DeletedIn != "" }

// Partition is the backed-up part of one partition.
type Partition struct {
	Partition int32 `json:"partition"`
	// Lineage counts how often the partition started over (topic recreated):
	// objects of older lineages are kept for the record but not restored.
	Lineage int `json:"lineage,omitempty"`
	// StartOffset..EndOffset is the offset range covered: every committed record
	// in [StartOffset, EndOffset) is in Objects, except inside Gaps.
	StartOffset int64    `json:"start_offset"`
	EndOffset   int64    `json:"end_offset"`
	Records     int64    `json:"records"`
	Gaps        []Gap    `json:"gaps,omitempty"`
	Objects     []Object `json:"objects"`
	// Digest is the rolling content digest after the last record (see Roll).
	Digest string `json:"digest"`
}

// Gap is an offset range that should have been backed up but was gone (retention
// removed it before it was read).
type Gap struct {
	From   int64  `json:"from"`
	To     int64  `json:"to"` // exclusive
	Reason string `json:"reason"`
}

// Object is one native object of a partition.
type Object struct {
	Key          string `json:"key"`
	BackupID     string `json:"backup_id"` // the run that wrote it
	FirstOffset  int64  `json:"first_offset"`
	LastOffset   int64  `json:"last_offset"`
	Records      int64  `json:"records"`
	MinTimestamp int64  `json:"min_timestamp"`
	MaxTimestamp int64  `json:"max_timestamp"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	// Digest is the partition's rolling digest after this object's last record.
	Digest string `json:"digest"`
}

// Group is one consumer group's committed offsets on backed-up partitions.
type Group struct {
	Group   string        `json:"group"`
	Offsets []GroupOffset `json:"offsets"`
}

// GroupOffset is a committed offset: the next record the group will read.
type GroupOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Metadata  string `json:"metadata,omitempty"`
}

// Key is where the manifest with this id lives in the bucket.
func Key(id string) string { return Prefix + id + ".json" }

// IDFromKey returns the id of a manifest key, or false if key is not one.
func IDFromKey(key string) (string, bool) {
	id, ok := strings.CutPrefix(key, Prefix)
	if !ok {
		return "", false
	}
	id, ok = strings.CutSuffix(id, ".json")
	return id, ok && id != "" && !strings.Contains(id, "/")
}

// NewID returns an id that sorts by time: 20261126T003500.123Z.
func NewID(t time.Time) string {
	return t.UTC().Format("20060102T150405.000Z")
}

// Newest returns the greatest id (ids sort by time).
func Newest(ids []string) (string, error) {
	if len(ids) == 0 {
		return "", fmt.Errorf("%w: no manifest under %s", ErrNoBackup, Prefix)
	}
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	return sorted[len(sorted)-1], nil
}

// Marshal encodes m as indented JSON.
func Marshal(m *Manifest) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Unmarshal decodes a manifest and refuses unknown major versions.
func Unmarshal(b []byte) (*Manifest, error) {
	var probe struct {
		FormatVersion string `json:"format_version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if major, _, _ := strings.Cut(probe.FormatVersion, "."); major != "1" {
		return nil, fmt.Errorf("%w %q (this kferry reads 1.x); upgrade kferry", ErrVersion, probe.FormatVersion)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return &m, nil
}

// Topic returns the named topic, or nil.
func (m *Manifest) Topic(name string) *Topic {
	for i := range m.Topics {
		if m.Topics[i].Name == name {
			return &m.Topics[i]
		}
	}
	return nil
}

// PartitionByID returns the partition with number p, or nil.
func (t *Topic) PartitionByID(p int32) *Partition {
	for i := range t.Partition {
		if t.Partition[i].Partition == p {
			return &t.Partition[i]
		}
	}
	return nil
}

// Roll extends a partition's rolling digest with one record: SHA-256 over the
// previous digest and the record's key, value, headers and timestamp, each length-
// prefixed with null distinct from empty. Offsets are left out so a restored
// topic (new offsets) compares equal to its backup. A Roller computes the same
// without allocating.
func Roll(prev []byte, rec *record.Record) []byte {
	var r Roller
	return slices.Clone(r.Roll(prev, rec))
}

// Roller computes Roll record after record with one hash, reset each time: a
// backup of 2,000,000 records of 100 B spent 15% of its CPU building a hash,
// closures and slices per record. Not safe for concurrent use.
type Roller struct {
	h       hash.Hash
	sum     [sha256.Size]byte
	scratch [9]byte
}

// Roll returns Roll(prev, rec) in the Roller's own array, valid until its next
// Roll; prev may be the previous result.
func (r *Roller) Roll(prev []byte, rec *record.Record) []byte {
	if r.h == nil {
		r.h = sha256.New()
	}
	r.h.Reset()
	r.h.Write(prev)
	r.field(rec.Key)
	r.field(rec.Value)
	// The header count is a field of 4 bytes (FORMAT.md).
	r.scratch[0] = 1
	binary.BigEndian.PutUint64(r.scratch[1:], 4)
	r.h.Write(r.scratch[:])
	binary.BigEndian.PutUint32(r.scratch[:4], uint32(len(rec.Headers))) //nolint:gosec // G115: the digest counts headers in 4 bytes (FORMAT.md); a record has far fewer
	r.h.Write(r.scratch[:4])
	for _, hd := range rec.Headers {
		r.fieldString(hd.Key)
		r.field(hd.Value)
	}
	var ts uint64
	if !rec.Timestamp.IsZero() {
		ts = uint64(rec.Timestamp.UnixMilli())
	}
	binary.BigEndian.PutUint64(r.scratch[:8], ts)
	r.h.Write(r.scratch[:8])
	return r.h.Sum(r.sum[:0])
}

func (r *Roller) field(b []byte) {
	if b == nil {
		r.scratch[0] = 0
		r.h.Write(r.scratch[:1])
		return
	}
	r.scratch[0] = 1
	binary.BigEndian.PutUint64(r.scratch[1:], uint64(len(b)))
	r.h.Write(r.scratch[:])
	r.h.Write(b)
}

func (r *Roller) fieldString(s string) {
	r.scratch[0] = 1
	binary.BigEndian.PutUint64(r.scratch[1:], uint64(len(s)))
	r.h.Write(r.scratch[:])
	_, _ = io.WriteString(r.h, s) // a hash's Write never fails
}

// HexDigest formats a digest for the manifest.
func HexDigest(d []byte) string { return hex.EncodeToString(d) }

// ParseDigest decodes a digest written by HexDigest ("" is the empty digest).
func ParseDigest(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	return hex.DecodeString(s)
}

// ErrSealed means the manifest is encrypted and no key (or the wrong one) was given.
var ErrSealed = errors.New("manifest is encrypted")

// Encryption says how a backup's objects and manifest are encrypted.
type Encryption struct {
	Scheme string `json:"scheme"` // "age-x25519"
	KeyID  string `json:"key_id"` // the key's public recipient, age1…
}

// envelope is what an encrypted manifest looks like in the bucket: enough in
// the clear to list it and name the key it needs, the rest sealed.
type envelope struct {
	FormatVersion string      `json:"format_version"`
	ID            string      `json:"id"`
	Encryption    *Encryption `json:"encryption,omitempty"`
	Sealed        []byte      `json:"sealed,omitempty"`
}

// MarshalSealed encodes m and, with a key, encrypts it into an envelope that
// names the key id.
func MarshalSealed(m *Manifest, key *seal.Key) ([]byte, error) {
	if key == nil {
		return Marshal(m)
	}
	m.Encryption = &Encryption{Scheme: "age-x25519", KeyID: key.ID()}
	inner, err := Marshal(m)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := key.Seal(&buf)
	if err == nil {
		_, err = w.Write(inner)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("encrypt manifest: %w", err)
	}
	b, err := json.MarshalIndent(envelope{FormatVersion: FormatVersion, ID: m.ID, Encryption: m.Encryption, Sealed: buf.Bytes()}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// UnmarshalSealed decodes a manifest, decrypting it with key when it is
// encrypted. A missing or wrong key is an error naming the key id it needs.
func UnmarshalSealed(b []byte, key *seal.Key) (*Manifest, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if env.Sealed == nil {
		return Unmarshal(b)
	}
	need := "an unknown key"
	if env.Encryption != nil {
		need = env.Encryption.KeyID
	}
	if key == nil {
		return nil, fmt.Errorf("%w with key %s; pass --encrypt-key-file or KFERRY_ENCRYPTION_KEY", ErrSealed, need)
	}
	if env.Encryption != nil && env.Encryption.KeyID != key.ID() {
		return nil, fmt.Errorf("%w with key %s, not with the given key %s: %w", ErrSealed, need, key.ID(), seal.ErrWrongKey)
	}
	r, err := key.Open(bytes.NewReader(env.Sealed))
	if err != nil {
		return nil, fmt.Errorf("%w with key %s: %w", ErrSealed, need, err)
	}
	inner, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: decrypt: %w", env.ID, err)
	}
	return Unmarshal(inner)
}

// Peek returns the id and encryption of a manifest without decrypting it.
func Peek(b []byte) (string, *Encryption, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return "", nil, fmt.Errorf("manifest: %w", err)
	}
	return env.ID, env.Encryption, nil
}
