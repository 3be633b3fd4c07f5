package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestUploadHeaders: the bucket URL's server-side encryption and the Object Lock
// option reach every PutObject and CreateMultipartUpload as S3 headers, and
// every upload (PutObject, UploadPart) carries a CRC32 checksum header that
// matches its body, which S3 demands of uploads with retention.
func TestUploadHeaders(t *testing.T) {
	big := bigObject()
	for _, tc := range []struct {
		name   string
		params string
		lock   ObjectLock
		sse    string
		kmsKey string
		mode   string
		// checksums is AWS_REQUEST_CHECKSUM_CALCULATION; with a lock, even
		// when_required must not drop the checksum.
		checksums string
	}{
		{name: "plain"},
		{name: "sse-s3", params: "&ssetype=AES256", sse: "AES256"},
		{name: "sse-kms", params: "&ssetype=aws:kms&kmskeyid=key-1", sse: "aws:kms", kmsKey: "key-1"},
		{name: "governance", lock: ObjectLock{Days: 1}, mode: "GOVERNANCE"},
		{name: "governance when_required", lock: ObjectLock{Days: 2}, mode: "GOVERNANCE", checksums: "when_required"},
		{name: "compliance and sse-kms", params: "&ssetype=aws:kms&kmskeyid=key-2", lock: ObjectLock{Mode: LockCompliance, Days: 30}, sse: "aws:kms", kmsKey: "key-2", mode: "COMPLIANCE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, url := newMemS3(t)
			t.Setenv("AWS_REQUEST_CHECKSUM_CALCULATION", tc.checksums)
			ctx := context.Background()
			b, err := OpenWith(ctx, url+tc.params, Options{ObjectLock: tc.lock})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			before := time.Now()
			if err := b.WriteAll(ctx, "small", []byte("hello\n"), nil); err != nil {
				t.Fatalf("write small: %v", err)
			}
			if err := writeObject(ctx, b, "big", big); err != nil {
				t.Fatalf("write big: %v", err)
			}
			after := time.Now()
			if o, _ := m.object("big"); !bytes.Equal(o.body, big) || !strings.HasSuffix(o.etag, "-3") {
				t.Errorf("big object: %d bytes, ETag %q; want %d bytes in 3 parts", len(o.body), o.etag, len(big))
			}
			for _, op := range []string{"PutObject", "CreateMultipartUpload"} {
				reqs := m.requests(op)
				if len(reqs) != 1 {
					t.Fatalf("%d %s requests, want 1 (saw %v)", len(reqs), op, m.ops())
				}
				h := reqs[0].header
				for name, want := range map[string]string{
					"X-Amz-Server-Side-Encryption":                tc.sse,
					"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": tc.kmsKey,
					"X-Amz-Object-Lock-Mode":                      tc.mode,
				} {
					if got := h.Get(name); got != want {
						t.Errorf("%s: %s = %q, want %q", op, name, got, want)
					}
				}
				checkRetainUntil(t, op, h.Get("X-Amz-Object-Lock-Retain-Until-Date"), tc.lock.Days, before, after)
			}
			for _, op := range []string{"PutObject", "UploadPart"} {
				for _, r := range m.requests(op) {
					if r.header.Get("X-Amz-Checksum-Crc32") == "" {
						t.Errorf("%s without a CRC32 checksum header: %v", op, r.header)
					}
				}
			}
		})
	}
}

// checkRetainUntil asserts that a retain-until header is days after a moment
// between before and after, or absent when days is 0.
func checkRetainUntil(t *testing.T, op, header string, days int, before, after time.Time) {
	t.Helper()
	if days == 0 {
		if header != "" {
			t.Errorf("%s: retain-until %q without object lock", op, header)
		}
		return
	}
	got, err := time.Parse(time.RFC3339, header)
	d := time.Duration(days) * 24 * time.Hour
	if err != nil || got.Before(before.Add(d).Truncate(time.Second)) || got.After(after.Add(d)) {
		t.Errorf("%s: retain-until %q (%v), want %d days after the upload (%s)", op, header, err, days, before.Add(d).UTC().Format(time.RFC3339))
	}
}

// TestObjectLockBucket: a bucket without Object Lock fails OpenWith before any
// upload; a bucket whose configuration may not be read is opened, and S3's
// refusal of the first upload becomes ErrObjectLockNotEnabled; a bucket with
// Object Lock is opened.
func TestObjectLockBucket(t *testing.T) {
	lock := Options{ObjectLock: ObjectLock{Days: 1}}
	ctx := context.Background()

	t.Run("enabled", func(t *testing.T) {
		m, url := newMemS3(t)
		b, err := OpenWith(ctx, url, lock)
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
		if ops := m.ops(); len(ops) != 1 || ops[0] != "GetObjectLockConfiguration" {
			t.Errorf("OpenWith made %v, want one GetObjectLockConfiguration", ops)
		}
	})

	for _, answer := range []string{"not found", "not enabled"} {
		t.Run(answer, func(t *testing.T) {
			m, url := newMemS3(t)
			m.hook = func(op, _ string, w http.ResponseWriter, _ *http.Request) bool {
				if op != "GetObjectLockConfiguration" {
					return false
				}
				if answer == "not found" {
					s3Error(w, http.StatusNotFound, "ObjectLockConfigurationNotFoundError")
				} else {
					_, _ = fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ObjectLockConfiguration></ObjectLockConfiguration>`)
				}
				return true
			}
			_, err := OpenWith(ctx, url, lock)
			if !errors.Is(err, ErrObjectLockNotEnabled) {
				t.Fatalf("OpenWith: %v, want ErrObjectLockNotEnabled", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "create-bucket --object-lock-enabled-for-bucket") || !strings.Contains(msg, "s3://bkt") ||
				strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming the bucket and the fix", msg)
			}
		})
	}

	t.Run("may not ask", func(t *testing.T) {
		m, url := newMemS3(t)
		m.hook = func(op, _ string, w http.ResponseWriter, _ *http.Request) bool {
			switch op {
			case "GetObjectLockConfiguration":
				s3Error(w, http.StatusForbidden, "AccessDenied")
			case "PutObject", "CreateMultipartUpload":
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidRequest</Code><Message>Bucket is missing ObjectLockConfiguration</Message></Error>`)
			default:
				return false
			}
			return true
		}
		b, err := OpenWith(ctx, url, lock)
		if err != nil {
			t.Fatalf("OpenWith without leave to read the configuration: %v", err)
		}
		defer b.Close()
		err = b.WriteAll(ctx, "topics/t/obj", []byte("x"), nil)
		if !errors.Is(err, ErrObjectLockNotEnabled) || !strings.Contains(err.Error(), "topics/t/obj") || strings.Contains(err.Error(), "\n") {
			t.Errorf("upload to a bucket without Object Lock: %v, want one line with ErrObjectLockNotEnabled and the key", err)
		}
		if len(m.requests("PutObject")) != 1 {
			t.Errorf("requests %v: want the one refused PutObject, not retried", m.ops())
		}
	})
}

// TestObjectLockOptions: retention on a store without Object Lock, and bad
// options, are refused before anything is opened.
func TestObjectLockOptions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, raw := range []string{"file://" + dir, dir, "mem://", "gs://bkt"} {
		if _, err := OpenWith(ctx, raw, Options{ObjectLock: ObjectLock{Days: 1}}); !errors.Is(err, ErrObjectLockUnsupported) {
			t.Errorf("OpenWith(%s, lock): %v, want ErrObjectLockUnsupported", raw, err)
		}
	}
	b, err := OpenWith(ctx, "file://"+dir, Options{ObjectLock: ObjectLock{Mode: LockCompliance}})
	if err != nil {
		t.Errorf("a mode without days is no lock: %v", err)
	} else {
		b.Close()
	}
	for _, l := range []ObjectLock{{Days: -1}, {Mode: "forever", Days: 1}} {
		if _, err := OpenWith(ctx, "mem://", Options{ObjectLock: l}); err == nil {
			t.Errorf("OpenWith(lock %+v) succeeded", l)
		}
	}
	for in, want := range map[string]LockMode{"governance": LockGovernance, "COMPLIANCE": LockCompliance, "Compliance": LockCompliance} {
		if got, err := ParseLockMode(in); got != want || err != nil {
			t.Errorf("ParseLockMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseLockMode("legal-hold"); err == nil {
		t.Error("ParseLockMode(legal-hold) succeeded")
	}
}
