package store

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestCompleteLostAnswer: a CompleteMultipartUpload that the store carried out
// but whose answer never arrived (the connection stalls past the stall
// timeout) is confirmed by the object's multipart ETag, and the write
// succeeds; an object under the key that these parts did not make, or a
// definite refusal, fails the write and aborts the upload.
// (Longer than 80 lines on purpose: one scenario whose steps build on the
// state the previous ones left; read top-down, it is the story it checks.)
func TestCompleteLostAnswer(t *testing.T) {
	big := bigObject()
	for _, tc := range []struct {
		name     string
		attempts string
		// cmu answers the n-th CompleteMultipartUpload (from 1); it returns
		// false to let memS3 answer.
		cmu     func(m *memS3, n int, w http.ResponseWriter, r *http.Request, hang func()) bool
		stale   bool // the key holds an older object
		ok      bool
		wantOps []string // in this order among the requests after the parts
		errText string
	}{
		{
			name: "retry finds the upload gone",
			cmu: func(m *memS3, n int, w http.ResponseWriter, r *http.Request, hang func()) bool {
				if n == 1 {
					m.complete(r, "big")
					hang()
					return true
				}
				return false // memS3 answers NoSuchUpload
			},
			ok:      true,
			wantOps: []string{"CompleteMultipartUpload", "CompleteMultipartUpload", "HeadObject"},
		},
		{
			name:     "every attempt stalls",
			attempts: "2",
			cmu: func(m *memS3, n int, w http.ResponseWriter, r *http.Request, hang func()) bool {
				if n == 1 {
					m.complete(r, "big")
				}
				hang()
				return true
			},
			ok:      true,
			wantOps: []string{"CompleteMultipartUpload", "CompleteMultipartUpload", "HeadObject"},
		},
		{
			name: "another object under the key",
			cmu: func(m *memS3, n int, w http.ResponseWriter, r *http.Request, hang func()) bool {
				if n == 1 {
					hang() // not completed
				} else {
					s3Error(w, http.StatusNotFound, "NoSuchUpload")
				}
				return true
			},
			stale:   true,
			wantOps: []string{"CompleteMultipartUpload", "CompleteMultipartUpload", "HeadObject", "AbortMultipartUpload"},
			errText: "NoSuchUpload",
		},
		{
			name: "a refusal is final",
			cmu: func(m *memS3, n int, w http.ResponseWriter, r *http.Request, hang func()) bool {
				s3Error(w, http.StatusBadRequest, "InvalidPart")
				return true
			},
			wantOps: []string{"CompleteMultipartUpload", "AbortMultipartUpload"},
			errText: "InvalidPart",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, url := newMemS3(t)
			release := make(chan struct{})
			t.Cleanup(func() { close(release) }) // before the server's Close, which waits for handlers
			hang := func(r *http.Request) func() {
				return func() {
					select { // until the client gives up on the connection
					case <-r.Context().Done():
					case <-release:
					}
				}
			}
			var mu sync.Mutex
			calls := 0
			m.hook = func(op, _ string, w http.ResponseWriter, r *http.Request) bool {
				if op != "CompleteMultipartUpload" {
					return false
				}
				mu.Lock()
				calls++
				n := calls
				mu.Unlock()
				return tc.cmu(m, n, w, r, hang(r))
			}
			t.Setenv(StallTimeoutEnv, (300 * time.Millisecond * raceSlowdown).String())
			if tc.attempts != "" {
				t.Setenv("AWS_MAX_ATTEMPTS", tc.attempts)
			}
			stale := []byte("an older object under the same key\n")
			if tc.stale {
				m.putObject("big", stale)
			}
			ctx := context.Background()
			b, err := Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			err = writeObject(ctx, b, "big", big)
			if tc.ok && err != nil {
				t.Errorf("write: %v, want the completed upload confirmed", err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.errText)) {
				t.Errorf("write: %v, want an error with %q", err, tc.errText)
			}
			ops := m.ops()
			i := slices.Index(ops, "CompleteMultipartUpload")
			if i < 0 || !slices.Equal(ops[i:], tc.wantOps) {
				t.Errorf("requests %v, want %v after the parts", ops, tc.wantOps)
			}
			o, _ := m.object("big")
			if want := map[bool][]byte{true: big, false: stale}[tc.ok]; tc.stale && !bytes.Equal(o.body, want) {
				t.Errorf("the object holds %d bytes, want %d", len(o.body), len(want))
			}
		})
	}
}

func TestMultipartETag(t *testing.T) {
	in := &s3.CompleteMultipartUploadInput{MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
		{PartNumber: aws.Int32(1), ETag: aws.String(`"5d41402abc4b2a76b9719d911017c592"`)}, // md5("hello")
		{PartNumber: aws.Int32(2), ETag: aws.String(`7d793037a0760186574b0282f2f435e7`)},   // md5("world")
	}}}
	// md5 of the two binary MD5s, as S3 computes it (and memS3.complete).
	if got, err := multipartETag(in); err != nil || got != "065947336a2f2a95ba8899f3675c3be6-2" {
		t.Errorf("multipartETag = %q, %v", got, err)
	}
	in.MultipartUpload.Parts[1].ETag = aws.String(`"kms-opaque-etag"`)
	if _, err := multipartETag(in); err == nil {
		t.Error("multipartETag of a part ETag that is no MD5 succeeded")
	}
}
