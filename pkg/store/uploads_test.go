package store

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"gocloud.dev/blob"
)

// TestUploadsThreshold: an object of 6 MiB goes up as parts of 5 MiB with
// Uploads (the SDK would otherwise buffer up to 16 MiB and send one
// PutObject), arrives whole (memS3 checks each part's CRC32, so the checksum
// setting survived), and Uploads leave other options alone.
func TestUploadsThreshold(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), (6<<20)/16)
	for _, tc := range []struct {
		name    string
		uploads bool
		want    string
	}{
		{"default", false, "PutObject"},
		{"uploads", true, "CreateMultipartUpload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, url := newMemS3(t)
			ctx := context.Background()
			b, err := Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			opts := &blob.WriterOptions{ContentType: "application/x-ndjson"}
			if tc.uploads {
				opts = Uploads{PartBytes: 5 << 20, Parts: 1}.WriterOptions(b, *opts)
			}
			w, err := b.NewWriter(ctx, "obj", opts)
			if err != nil {
				t.Fatal(err)
			}
			for p := body; len(p) > 0; p = p[min(len(p), 256<<10):] {
				if _, err := w.Write(p[:min(len(p), 256<<10)]); err != nil {
					t.Fatal(err)
				}
			}
			if err := CloseWriter(w); err != nil {
				t.Fatal(err)
			}
			if ops := m.ops(); !slices.Contains(ops, tc.want) {
				t.Errorf("requests %v, want %s among them", ops, tc.want)
			}
			if o, _ := m.object("obj"); !bytes.Equal(o.body, body) {
				t.Errorf("the object holds %d bytes, want the %d written", len(o.body), len(body))
			}
			if reqs := m.requests(tc.want); len(reqs) != 1 || reqs[0].header.Get("Content-Type") != "application/x-ndjson" {
				t.Errorf("%d %s requests, want one with the writer option's content type", len(reqs), tc.want)
			}
		})
	}
}

// TestUploadsKeepBucketSettings: the transfer manager Uploads puts in place
// of s3blob's keeps what the bucket sets on every upload: SSE-KMS, the object
// lock's retention, and a CRC32 on each part even under when_required (a lock
// needs it).
func TestUploadsKeepBucketSettings(t *testing.T) {
	m, url := newMemS3(t)
	t.Setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
	ctx := context.Background()
	b, err := OpenWith(ctx, url+"&ssetype=aws:kms&kmskeyid=key-1", Options{ObjectLock: ObjectLock{Days: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	body := bytes.Repeat([]byte("0123456789abcdef"), (6<<20)/16)
	w, err := b.NewWriter(ctx, "obj", Uploads{PartBytes: 5 << 20, Parts: 1}.WriterOptions(b, blob.WriterOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := CloseWriter(w); err != nil {
		t.Fatal(err)
	}
	reqs := m.requests("CreateMultipartUpload")
	if len(reqs) != 1 {
		t.Fatalf("requests %v, want one CreateMultipartUpload", m.ops())
	}
	for name, want := range map[string]string{
		"X-Amz-Server-Side-Encryption":                "aws:kms",
		"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "key-1",
		"X-Amz-Object-Lock-Mode":                      "GOVERNANCE",
	} {
		if got := reqs[0].header.Get(name); got != want {
			t.Errorf("CreateMultipartUpload: %s = %q, want %q", name, got, want)
		}
	}
	if reqs[0].header.Get("X-Amz-Object-Lock-Retain-Until-Date") == "" {
		t.Error("CreateMultipartUpload without a retain-until date")
	}
	parts := m.requests("UploadPart")
	if len(parts) != 2 {
		t.Errorf("%d parts, want 2", len(parts))
	}
	for _, r := range parts {
		if r.header.Get("X-Amz-Checksum-Crc32") == "" {
			t.Errorf("UploadPart without a CRC32 checksum header: %v", r.header)
		}
	}
}

// TestUploadsPartFloor: a part size under S3's minimum is raised to it, so a
// 6 MiB object still goes up in parts S3 takes (5 MiB and 1 MiB), not six
// parts of 1 MiB that S3 would refuse with EntityTooSmall.
func TestUploadsPartFloor(t *testing.T) {
	m, url := newMemS3(t)
	ctx := context.Background()
	b, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	body := bytes.Repeat([]byte("0123456789abcdef"), (6<<20)/16)
	w, err := b.NewWriter(ctx, "obj", Uploads{PartBytes: 1 << 20, Parts: 1}.WriterOptions(b, blob.WriterOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := CloseWriter(w); err != nil {
		t.Fatal(err)
	}
	if parts := m.requests("UploadPart"); len(parts) != 2 {
		t.Errorf("%d parts, want 2 (5 MiB and 1 MiB)", len(parts))
	}
	if o, _ := m.object("obj"); !bytes.Equal(o.body, body) {
		t.Errorf("the object holds %d bytes, want %d", len(o.body), len(body))
	}
}
