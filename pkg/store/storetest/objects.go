package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kferry/kferry/pkg/store"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// objectKey is a key as kferry writes them, with the '+' and '=' that URL
// encodings trip on.
const objectKey = "topics/orders-eu.v2/partition=3/orders-eu.v2+3+0000000000000000042.json"

// largeSize is past the sizes at which every cloud store's writer uploads in
// parts (S3 16 MiB through kferry's client, Cloud Storage chunks of 16 MiB,
// Azure blocks of 8 MiB), and not a multiple of any of them.
const largeSize = 20<<20 + 12345

func testWriteRead(t *testing.T, ctx context.Context, target Target) {
	b := fresh(t, ctx, target)
	body := []byte(`{"offset":42,"value":"hello"}` + "\n")
	start := time.Now()
	if err := b.WriteAll(ctx, objectKey, body, &blob.WriterOptions{ContentType: "application/json"}); err != nil {
		t.Fatalf("write %s: %s", objectKey, shown(target, err))
	}
	got, err := b.ReadAll(ctx, objectKey)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read %s = %q, %s; want %q", objectKey, got, shown(target, err), body)
	}
	attrs, err := b.Attributes(ctx, objectKey)
	if err != nil {
		t.Fatalf("attributes of %s: %s", objectKey, shown(target, err))
	}
	if attrs.Size != int64(len(body)) {
		t.Errorf("attributes say %d bytes, want %d", attrs.Size, len(body))
	}
	// Stores keep modification times in whole seconds or finer.
	if d := attrs.ModTime.Sub(start); d < -2*time.Second || d > time.Minute {
		t.Errorf("modification time %s is %s from the write's start", attrs.ModTime, d)
	}
	if ok, err := b.Exists(ctx, objectKey); !ok || err != nil {
		t.Errorf("Exists(%s) = %v, %s; want true", objectKey, ok, shown(target, err))
	}
	part, err := readRange(ctx, b, objectKey, 2, 6)
	if err != nil || string(part) != string(body[2:8]) {
		t.Errorf("read 6 bytes from 2 = %q, %s; want %q", part, shown(target, err), body[2:8])
	}
}

func testOverwrite(t *testing.T, ctx context.Context, target Target) {
	b := fresh(t, ctx, target)
	long, short := bytes.Repeat([]byte("first version\n"), 100), []byte("second\n")
	for _, body := range [][]byte{long, short} {
		if err := b.WriteAll(ctx, objectKey, body, nil); err != nil {
			t.Fatalf("write %s: %s", objectKey, shown(target, err))
		}
	}
	got, err := b.ReadAll(ctx, objectKey)
	if err != nil || !bytes.Equal(got, short) {
		t.Fatalf("read after overwrite = %q, %s; want %q", got, shown(target, err), short)
	}
	objs := listAll(t, ctx, target, b, nil)
	if len(objs) != 1 || objs[0].Key != objectKey || objs[0].Size != int64(len(short)) {
		t.Errorf("listing after overwrite: %v; want %s of %d bytes alone", describe(objs), objectKey, len(short))
	}
}

func testDelete(t *testing.T, ctx context.Context, target Target) {
	b := fresh(t, ctx, target)
	if err := b.WriteAll(ctx, objectKey, []byte("x"), nil); err != nil {
		t.Fatalf("write %s: %s", objectKey, shown(target, err))
	}
	if err := b.Delete(ctx, objectKey); err != nil {
		t.Fatalf("delete %s: %s", objectKey, shown(target, err))
	}
	if ok, err := b.Exists(ctx, objectKey); ok || err != nil {
		t.Errorf("Exists after delete = %v, %s; want false", ok, shown(target, err))
	}
	if _, err := b.ReadAll(ctx, objectKey); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("read after delete: %s; want NotFound", shown(target, err))
	}
	if objs := listAll(t, ctx, target, b, nil); len(objs) != 0 {
		t.Errorf("listing after delete: %v; want nothing", describe(objs))
	}
	// kferry deletes what may be gone already (stale offsets records, a rerun
	// of prune): a second delete succeeds or says NotFound, nothing else.
	if err := b.Delete(ctx, objectKey); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("second delete: %s; want nil or NotFound", shown(target, err))
	}
}

func testMissingObject(t *testing.T, ctx context.Context, target Target) {
	b := fresh(t, ctx, target)
	const key = "topics/t/partition=0/t+0+0000000000.json"
	// The portable error code is what kferry tells a missing object by
	// (gcerrors.NotFound), for every store alike.
	_, readErr := b.ReadAll(ctx, key)
	_, rangeErr := readRange(ctx, b, key, 10, 5)
	_, attrErr := b.Attributes(ctx, key)
	for op, err := range map[string]error{"read": readErr, "ranged read": rangeErr, "attributes": attrErr} {
		if gcerrors.Code(err) != gcerrors.NotFound {
			t.Errorf("%s of a missing object: %s; want NotFound", op, shown(target, err))
			continue
		}
		noSecret(t, target, err)
	}
	if ok, err := b.Exists(ctx, key); ok || err != nil {
		t.Errorf("Exists of a missing object = %v, %s; want false, nil", ok, shown(target, err))
	}
}

func testLargeObject(t *testing.T, ctx context.Context, target Target) {
	b := fresh(t, ctx, target)
	const key = "large/object.bin"
	w, err := b.NewWriter(ctx, key, nil)
	if err != nil {
		t.Fatalf("new writer: %s", shown(target, err))
	}
	sum := sha256.New()
	// Streamed: no more than a copy buffer of the object is ever in hand.
	n, err := io.CopyBuffer(w, io.TeeReader(pattern(largeSize), sum), make([]byte, 256<<10))
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil || n != largeSize {
		t.Fatalf("write %d of %d bytes: %s", n, largeSize, shown(target, err))
	}
	want := sum.Sum(nil)

	attrs, err := b.Attributes(ctx, key)
	if err != nil || attrs.Size != largeSize {
		t.Fatalf("attributes: %+v, %s; want %d bytes", attrs, shown(target, err), largeSize)
	}
	r, err := b.NewReader(ctx, key, nil)
	if err != nil {
		t.Fatalf("new reader: %s", shown(target, err))
	}
	sum.Reset()
	n, err = io.Copy(sum, r)
	_ = r.Close() // read only; the copy's error is the one that counts
	if err != nil || n != largeSize || !bytes.Equal(sum.Sum(nil), want) {
		t.Fatalf("read back %d bytes (%s), want the %d written", n, shown(target, err), largeSize)
	}

	// Ranges across the 8 MiB and 16 MiB boundaries of parts and chunks, and
	// the tail.
	for _, rg := range []struct{ off, n int64 }{{8<<20 - 700, 1500}, {16<<20 - 1000, 3000}, {largeSize - 100, 100}} {
		got, err := readRange(ctx, b, key, rg.off, rg.n)
		if err != nil {
			t.Errorf("read %d bytes at %d: %s", rg.n, rg.off, shown(target, err))
			continue
		}
		if !bytes.Equal(got, patternAt(rg.off, rg.n)) {
			t.Errorf("the %d bytes at %d differ from those written", rg.n, rg.off)
		}
	}
}

// testAbandonedWrite: a write whose context is cancelled before Close stores
// nothing: an existing object keeps its bytes and a new one does not appear,
// partial or whole. kferry's exactly-once objects rest on this.
func testAbandonedWrite(t *testing.T, ctx context.Context, target Target) {
	b := fresh(t, ctx, target)
	old := []byte("the complete object\n")
	if err := b.WriteAll(ctx, objectKey, old, nil); err != nil {
		t.Fatalf("write %s: %s", objectKey, shown(target, err))
	}
	const newKey = "topics/t/partition=0/t+0+0000000100.json"
	for _, tc := range []struct {
		key  string
		size int64
	}{
		{objectKey, 1 << 20},
		{newKey, 17 << 20}, // past the size at which S3 uploads in parts
	} {
		wctx, cancel := context.WithCancel(ctx)
		w, err := b.NewWriter(wctx, tc.key, nil)
		if err != nil {
			cancel()
			t.Fatalf("new writer: %s", shown(target, err))
		}
		_, werr := io.CopyBuffer(w, pattern(tc.size), make([]byte, 256<<10))
		cancel()
		// Through store.CloseWriter, as kferry closes every writer: a driver
		// that panics here (gocloud's Azure writer does) must give an error.
		err = store.CloseWriter(w)
		if werr == nil && err == nil {
			t.Errorf("abandoned write of %s: Close succeeded", tc.key)
		}
		noSecret(t, target, err)
	}
	got, err := b.ReadAll(ctx, objectKey)
	if err != nil || !bytes.Equal(got, old) {
		t.Errorf("after an abandoned overwrite, read %d bytes (%s); want the old %d", len(got), shown(target, err), len(old))
	}
	objs := listAll(t, ctx, target, b, nil)
	if len(objs) != 1 || objs[0].Key != objectKey {
		t.Errorf("after abandoned writes the bucket holds %v; want %s alone", describe(objs), objectKey)
	}
}

func testURLPrefix(t *testing.T, ctx context.Context, target Target) {
	if target.Isolated {
		t.Log("not run: every open of this store is a new bucket")
		return
	}
	base := target.Fresh(t)
	prefixed := withPath(t, base, "backups/eu")
	if err := open(t, ctx, target, prefixed).WriteAll(ctx, "k.json", []byte("{}"), nil); err != nil {
		t.Fatalf("write through %s: %s", prefixed, shown(target, err))
	}
	all := open(t, ctx, target, base)
	if objs := listAll(t, ctx, target, all, nil); len(objs) != 1 || objs[0].Key != "backups/eu/k.json" {
		t.Errorf("the bucket holds %v; want backups/eu/k.json", describe(objs))
	}
	if objs := listAll(t, ctx, target, open(t, ctx, target, prefixed), nil); len(objs) != 1 || objs[0].Key != "k.json" {
		t.Errorf("through the prefix the bucket holds %v; want k.json", describe(objs))
	}
}

// readRange reads n bytes of key from off.
func readRange(ctx context.Context, b *blob.Bucket, key string, off, n int64) ([]byte, error) {
	r, err := b.NewRangeReader(ctx, key, off, n, nil)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return body, err
}

// pattern is a reader of size pseudo-random bytes, the same on every call.
func pattern(size int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{'k', 'f', 'e', 'r', 'r', 'y'}), size)
}

// patternAt is the n bytes of pattern at offset off.
func patternAt(off, n int64) []byte {
	r := pattern(off + n)
	if _, err := io.CopyN(io.Discard, r, off); err != nil {
		panic(errors.New("storetest: pattern is shorter than its size"))
	}
	out, _ := io.ReadAll(r) // reads from memory never fail
	return out
}
