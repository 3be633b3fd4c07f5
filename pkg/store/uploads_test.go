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
