package native

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2/ocf"

	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
)

// Golden fixtures are native objects as kferry of one format version wrote them,
// committed under testdata/v<version>/ (docs/FORMAT.md, "Compatibility: golden
// fixtures"). Every later kferry must decode them to exactly the records below.
// A new format version adds an entry to goldenVersions and a directory beside the
// old ones; the old ones are never regenerated.

var update = flag.Bool("update", false, "write the golden fixtures of the current native format version (testdata/v"+Version+") that are missing; a committed fixture is never overwritten")

// goldenKeyFile is the age identity that sealed the encrypted fixtures. It is a
// test-only key, committed on purpose beside them.
const goldenKeyFile = "TEST-ONLY-age-key.txt"

// goldenKeyID is goldenKeyFile's public recipient.
const goldenKeyID = "age18h3nlk8xxfzaa78am2h9qwd46yzr5ptn7unxjyrjn93kjxfj9uaqgmnj5j"

// goldenCodecs are the Avro block codecs kferry writes (Format.Codec); readers
// must accept all of them.
var goldenCodecs = []ocf.CodecName{ocf.Null, ocf.Deflate, ocf.Snappy, ocf.ZStandard}

// goldenVersion is one format version's fixtures: the topic and partition in
// their metadata and the records every one of them holds.
type goldenVersion struct {
	version   string
	topic     string
	partition int32
	records   func() []record.Record
}

var goldenVersions = []goldenVersion{
	{version: "1.0", topic: "golden", partition: 3, records: goldenRecordsV1},
}

// goldenRecordsV1 exercises what the native format promises to keep: null and
// empty keys and values, tombstones, duplicate header keys, null, empty and binary
// header values, every timestamp type (and a zero one), offset gaps, non-UTF-8
// bytes, a value longer than age's 64 KiB chunk, and more records than one
// container block holds (the encoder closes a block at 1,000 records).
func goldenRecordsV1() []record.Record {
	ts := time.Date(2026, 11, 25, 12, 0, 0, 123e6, time.UTC)
	ms := func(n int) time.Time { return ts.Add(time.Duration(n) * time.Millisecond) }
	large := make([]byte, 70_000)
	for i := range large {
		large[i] = byte(i*31 + i>>9)
	}
	recs := []record.Record{
		{Offset: 100, Timestamp: ms(0), TimestampType: record.TimestampCreateTime,
			Key: []byte("order-1"), Value: []byte(`{"id":1,"note":"größe ✓"}`),
			Headers: []record.Header{
				{Key: "trace", Value: []byte("abc")},
				{Key: "dup", Value: []byte("first")},
				{Key: "dup", Value: []byte("second")},
				{Key: "null-value", Value: nil},
				{Key: "empty-value", Value: []byte{}},
				{Key: "binary", Value: []byte{0x00, 0xff, 0xfe, 0x80}},
				{Key: "ключ", Value: []byte("значение")},
				{Key: "", Value: []byte("empty header key")},
			}},
		{Offset: 101, Timestamp: ms(1), TimestampType: record.TimestampCreateTime, Key: nil, Value: []byte("null key")},
		{Offset: 102, Timestamp: ms(2), TimestampType: record.TimestampLogAppendTime, Key: []byte("empty value"), Value: []byte{}},
		{Offset: 103, Timestamp: ms(3), TimestampType: record.TimestampCreateTime, Key: []byte("order-1"), Value: nil,
			Headers: []record.Header{{Key: "reason", Value: []byte("tombstone")}}},
		// Offsets 104-106 are missing, as compaction or transaction markers leave them.
		{Offset: 107, Timestamp: ms(4), TimestampType: record.TimestampLogAppendTime,
			Key: []byte{}, Value: []byte{0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0x00, 0xff, 0xfe}},
		{Offset: 108, TimestampType: record.TimestampUnknown, Key: []byte{0xff, 0x00, 0xfe}, Value: large},
		{Offset: 109, Timestamp: time.UnixMilli(0), TimestampType: record.TimestampCreateTime, Key: []byte("epoch"), Value: []byte("1970-01-01T00:00:00Z")},
	}
	for i := range 1000 {
		recs = append(recs, record.Record{Offset: int64(1000 + i), Timestamp: ms(1000 + i), TimestampType: record.TimestampCreateTime,
			Key: fmt.Appendf(nil, "k-%d", i%10), Value: fmt.Appendf(nil, "filler %04d", i)})
	}
	return recs
}

func goldenFile(codec ocf.CodecName, encrypted bool) string {
	if encrypted {
		return string(codec) + "-encrypted.kfr"
	}
	return string(codec) + ".kfr"
}

// TestGoldenNativeObjects decodes every committed fixture (each codec, plain and
// encrypted) and compares each record field by field with the expectation.
func TestGoldenNativeObjects(t *testing.T) {
	if *update {
		writeGolden(t)
	}
	for _, gv := range goldenVersions {
		dir := filepath.Join("testdata", "v"+gv.version)
		key, err := seal.Load(filepath.Join(dir, goldenKeyFile))
		if err != nil {
			t.Fatalf("v%s: %v", gv.version, err)
		}
		if key.ID() != goldenKeyID {
			t.Fatalf("v%s: %s has id %s, want %s", gv.version, goldenKeyFile, key.ID(), goldenKeyID)
		}
		want := gv.records()
		for _, codec := range goldenCodecs {
			for _, encrypted := range []bool{false, true} {
				file := goldenFile(codec, encrypted)
				t.Run("v"+gv.version+"/"+file, func(t *testing.T) {
					path := filepath.Join(dir, file)
					c := blocks(t, open(t, path, key, encrypted))
					if c < 2 {
						t.Errorf("%s has %d container blocks; the fixtures must cover reading across blocks", path, c)
					}
					meta, _, _ := readContainer(t, path, key, encrypted)
					wantMeta := map[string]string{MetaFormat: "native", MetaVersion: gv.version, MetaTopic: gv.topic,
						MetaPartition: fmt.Sprint(gv.partition), "avro.codec": string(codec)}
					for k, v := range wantMeta {
						if got := string(meta[k]); got != v {
							t.Errorf("metadata %s = %q, want %q", k, got, v)
						}
					}
					got := decodeGolden(t, path, key, encrypted)
					if diff := cmp.Diff(want, got, exactBytes); diff != "" {
						t.Errorf("%s decodes differently (-want +got):\n%s", path, diff)
					}
				})
			}
		}
	}
}

// TestGoldenNativeEncoderUnchanged encodes the current version's records again and
// compares the container's metadata and its uncompressed block bytes with the
// fixtures, so a change of what the encoder writes fails here even while the
// decoder follows it. Sync markers, metadata order and compressed bytes may differ
// between runs of the same encoder and are not compared.
func TestGoldenNativeEncoderUnchanged(t *testing.T) {
	gv := currentGolden(t)
	dir := filepath.Join("testdata", "v"+gv.version)
	for _, codec := range goldenCodecs {
		t.Run(string(codec), func(t *testing.T) {
			meta, count, data := readContainer(t, filepath.Join(dir, goldenFile(codec, false)), nil, false)
			fresh := encodeGolden(t, codec, gv.records())
			fmeta, fcount, fdata := containerContent(t, bytes.NewReader(fresh))
			if diff := cmp.Diff(meta, fmeta); diff != "" {
				t.Errorf("the encoder writes other metadata than the v%s fixtures (-fixture +encoder):\n%s\n%s", gv.version, diff, frozenHint)
			}
			if count != fcount || !bytes.Equal(data, fdata) {
				t.Errorf("the encoder writes other record bytes than the v%s fixtures: %d records in %d bytes, fixture %d in %d (first difference at byte %d)\n%s",
					gv.version, fcount, len(fdata), count, len(data), firstDiff(data, fdata), frozenHint)
			}
		})
	}
}

const frozenHint = "A change of the native format is a new format version: bump native.Version, add a goldenVersions entry and its testdata directory (go test -run Golden -update), keep the old fixtures."

func currentGolden(t *testing.T) goldenVersion {
	t.Helper()
	for _, gv := range goldenVersions {
		if gv.version == Version {
			return gv
		}
	}
	t.Fatalf("no goldenVersions entry for the current native format version %s", Version)
	return goldenVersion{}
}

func encodeGolden(t *testing.T, codec ocf.CodecName, recs []record.Record) []byte {
	t.Helper()
	gv := currentGolden(t)
	for i := range recs {
		recs[i].Topic, recs[i].Partition = gv.topic, gv.partition
	}
	return encodeAll(t, Format{Codec: codec}, recs)
}

// open returns the plaintext of a fixture; encrypted ones must be sealed (and
// plain ones not), so a fixture cannot silently lose its encryption.
func open(t *testing.T, path string, key *seal.Key, encrypted bool) io.Reader {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sealed := bytes.HasPrefix(body, []byte(seal.Magic)); sealed != encrypted {
		t.Fatalf("%s: sealed = %v, want %v", path, sealed, encrypted)
	}
	if !encrypted {
		return bytes.NewReader(body)
	}
	if _, err := seal.OpenMaybe(bytes.NewReader(body), nil); !errors.Is(err, seal.ErrNoKey) {
		t.Errorf("%s without a key: err = %v, want ErrNoKey", path, err)
	}
	r, err := seal.OpenMaybe(bytes.NewReader(body), key)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: decrypt: %v", path, err)
	}
	return bytes.NewReader(plain)
}

func decodeGolden(t *testing.T, path string, key *seal.Key, encrypted bool) []record.Record {
	t.Helper()
	dec, err := Format{}.NewDecoder(open(t, path, key, encrypted), layout.ViewValues)
	if err != nil {
		t.Fatal(err)
	}
	var out []record.Record
	for {
		var rec record.Record
		err := dec.Next(&rec)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: record %d: %v", path, len(out), err)
		}
		out = append(out, rec)
	}
}

func readContainer(t *testing.T, path string, key *seal.Key, encrypted bool) (map[string][]byte, int64, []byte) {
	t.Helper()
	return containerContent(t, open(t, path, key, encrypted))
}

// containerContent returns what a native object holds apart from its sync marker
// and compression: the metadata, the record count and the blocks' bytes.
func containerContent(t *testing.T, r io.Reader) (map[string][]byte, int64, []byte) {
	t.Helper()
	c, err := newContainerReader(r)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	var data []byte
	for {
		count, block, err := c.Next()
		if errors.Is(err, io.EOF) {
			return c.Meta, total, data
		}
		if err != nil {
			t.Fatal(err)
		}
		total += count
		data = append(data, block...)
	}
}

func blocks(t *testing.T, r io.Reader) int {
	t.Helper()
	c, err := newContainerReader(r)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; ; n++ {
		if _, _, err := c.Next(); errors.Is(err, io.EOF) {
			return n
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// writeGolden writes the fixtures of the current version that are missing. A
// fixture that exists is kept when it holds what the encoder writes now (its
// sync marker, metadata order and age nonces differ from run to run) and is an
// error otherwise: released fixtures are frozen.
func writeGolden(t *testing.T) {
	t.Helper()
	gv := currentGolden(t)
	dir := filepath.Join("testdata", "v"+gv.version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	key, err := seal.Load(filepath.Join(dir, goldenKeyFile))
	if err != nil {
		t.Fatalf("%v (the test key is committed with the fixtures; copy it from an older version's directory)", err)
	}
	for _, codec := range goldenCodecs {
		body := encodeGolden(t, codec, gv.records())
		for _, encrypted := range []bool{false, true} {
			path := filepath.Join(dir, goldenFile(codec, encrypted))
			if _, err := os.Stat(path); err == nil {
				meta, count, data := readContainer(t, path, key, encrypted)
				fmeta, fcount, fdata := containerContent(t, bytes.NewReader(body))
				if !cmp.Equal(meta, fmeta) || count != fcount || !bytes.Equal(data, fdata) {
					t.Fatalf("-update: %s exists and holds other content than the encoder writes now; it is not overwritten.\n%s", path, frozenHint)
				}
				continue
			}
			out := body
			if encrypted {
				out = sealBytes(t, key, body)
			}
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("-update: wrote %s", path)
		}
	}
}

func sealBytes(t *testing.T, key *seal.Key, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := key.Seal(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
