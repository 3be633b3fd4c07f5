package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	for _, tc := range []struct {
		base    time.Duration
		attempt int
		r       float64
		want    time.Duration
	}{
		{s3Backoff, 1, 0.5, 100 * time.Millisecond},
		{s3Backoff, 2, 0.5, 200 * time.Millisecond},
		{s3Backoff, 6, 0.999999, 6400*time.Millisecond - 6400*time.Nanosecond},
		{s3Backoff, 7, 0.5, s3MaxBackoff / 2},
		{s3Backoff, 60, 0.5, s3MaxBackoff / 2},
		{s3ThrottleBackoff, 1, 0.5, 500 * time.Millisecond},
		{s3ThrottleBackoff, 5, 0.5, 5 * time.Second},
		{s3Backoff, 0, 0, 0},
	} {
		if got := backoffDelay(tc.base, tc.attempt, tc.r); got != tc.want {
			t.Errorf("backoffDelay(%s, %d, %g) = %s, want %s", tc.base, tc.attempt, tc.r, got, tc.want)
		}
	}
	var total time.Duration
	for a := 1; a < S3MaxAttempts; a++ {
		total += backoffDelay(s3ThrottleBackoff, a, 1)
	}
	if total > 70*time.Second {
		t.Errorf("the retries of one call may sleep %s", total)
	}
}

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in         string
		start, end int64
		ok         bool
	}{
		{"", 0, -1, true},
		{"bytes=10-", 10, -1, true},
		{"bytes=10-19", 10, 19, true},
		{"bytes=-5", 0, 0, false},
		{"bytes=5-1", 0, 0, false},
		{"bytes=1-2,4-5", 0, 0, false},
		{"items=1-2", 0, 0, false},
	} {
		start, end, ok := parseRange(tc.in)
		if start != tc.start || end != tc.end || ok != tc.ok {
			t.Errorf("parseRange(%q) = %d, %d, %v; want %d, %d, %v", tc.in, start, end, ok, tc.start, tc.end, tc.ok)
		}
	}
}

// TestStallConn: a peer that neither reads nor writes fails a read and a write
// after the timeout with ErrStalled, a timeout the SDK retries.
func TestStallConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	peer := <-accepted
	defer peer.Close()
	c := &stallConn{Conn: raw, timeout: 100 * time.Millisecond}

	start := time.Now()
	_, err = c.Read(make([]byte, 10))
	var ne net.Error
	if !errors.Is(err, ErrStalled) || !errors.As(err, &ne) || !ne.Timeout() || !strings.Contains(err.Error(), "received") {
		t.Errorf("Read from a silent peer: %v, want a stall timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Read took %s", d)
	}
	// More than the socket buffers hold, so the writes block.
	n, err := c.Write(make([]byte, 64<<20))
	if !errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), "sent") || n == 0 {
		t.Errorf("Write to a peer that does not read: %d bytes, %v; want some bytes and a stall timeout", n, err)
	}
}

// fakeS3 is a test S3 endpoint on 127.0.0.1 run by handler, with credentials in
// the environment, and returns the bucket URL for it.
func fakeS3(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test-secret", "AWS_CONFIG_FILE": none,
		"AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "",
		"AWS_PROFILE": "", StallTimeoutEnv: "",
	} {
		t.Setenv(k, v)
	}
	return "s3://bkt?endpoint=" + srv.URL + "&use_path_style=true&region=us-east-1"
}

func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>test fault</Message><RequestId>r1</RequestId></Error>`, code)
}

// serveObject answers a GET of body, whole or by the Range header, with ETag
// "v1"; a request with another If-Match gets 412.
func serveObject(w http.ResponseWriter, r *http.Request, body []byte) {
	if m := r.Header.Get("If-Match"); m != "" && m != `"v1"` {
		s3Error(w, http.StatusPreconditionFailed, "PreconditionFailed")
		return
	}
	start, end, _ := parseRange(r.Header.Get("Range"))
	if end < 0 {
		end = int64(len(body)) - 1
	}
	w.Header().Set("ETag", `"v1"`)
	w.Header().Set("Content-Length", strconv.Itoa(int(end-start+1)))
	if r.Header.Get("Range") != "" {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, len(body)))
		w.WriteHeader(http.StatusPartialContent)
	}
	_, _ = w.Write(body[start : end+1])
}

// breakAfter sends the headers and n bytes of a whole-object GET, then drops
// the connection.
func breakAfter(t *testing.T, w http.ResponseWriter, body []byte, n int) {
	w.Header().Set("ETag", `"v1"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body[:n])
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	_ = conn.Close()
}

func testBody() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, "record %d\n", i)
	}
	return b.Bytes()
}

// TestResumeBody: a GetObject body cut twice (a reset, then a stall) reads on
// with ranged GETs and yields exactly the object.
func TestResumeBody(t *testing.T) {
	body := testBody()
	release := make(chan struct{})
	var gets atomic.Int32
	url := fakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/obj") {
			s3Error(w, http.StatusNotFound, "NoSuchKey")
			return
		}
		switch gets.Add(1) {
		case 1:
			breakAfter(t, w, body, 1000)
		case 2: // the first resume: half of the rest, then silence
			if r.Header.Get("Range") != fmt.Sprintf("bytes=1000-%d", len(body)-1) || r.Header.Get("If-Match") != `"v1"` {
				t.Errorf("resume asks for %q if-match %q", r.Header.Get("Range"), r.Header.Get("If-Match"))
			}
			w.Header().Set("ETag", `"v1"`)
			w.Header().Set("Content-Length", strconv.Itoa(len(body)-1000))
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write(body[1000 : len(body)/2])
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			serveObject(w, r, body)
		}
	})
	t.Cleanup(func() { close(release) })
	t.Setenv(StallTimeoutEnv, (300 * time.Millisecond * raceSlowdown).String())
	ctx := context.Background()
	b, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := b.ReadAll(ctx, "obj")
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("read %d bytes, want the %d of the object", len(got), len(body))
	}
	if n := gets.Load(); n != 3 {
		t.Errorf("%d GETs, want 3 (the first, a resume after the reset, one after the stall)", n)
	}
}

// TestResumeBodyChanged: an object replaced while it was read is not spliced
// from two versions: the resume fails on the ETag.
func TestResumeBodyChanged(t *testing.T) {
	body := testBody()
	var gets atomic.Int32
	url := fakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		if gets.Add(1) == 1 {
			breakAfter(t, w, body, 1000)
			return
		}
		r.Header.Set("If-Match", "changed") // as if the object had a new ETag
		serveObject(w, r, body)
	})
	ctx := context.Background()
	b, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = b.ReadAll(ctx, "obj")
	if err == nil || !strings.Contains(err.Error(), "PreconditionFailed") || !strings.Contains(err.Error(), "resuming at byte 1000") {
		t.Errorf("ReadAll of a changed object: %v, want the resume refused", err)
	}
}

// TestRetries: 503 SlowDown and a reset are retried; AWS_MAX_ATTEMPTS bounds
// the attempts of a call that keeps failing.
func TestRetries(t *testing.T) {
	body := []byte("hello\n")
	var calls atomic.Int32
	var fail atomic.Bool
	url := fakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch {
		case fail.Load():
			s3Error(w, http.StatusInternalServerError, "InternalError")
		case n == 1:
			s3Error(w, http.StatusServiceUnavailable, "SlowDown")
		case n == 2:
			conn, _, _ := http.NewResponseController(w).Hijack()
			_ = conn.Close()
		default:
			serveObject(w, r, body)
		}
	})
	ctx := context.Background()
	b, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.ReadAll(ctx, "obj")
	b.Close()
	if err != nil || !bytes.Equal(got, body) || calls.Load() != 3 {
		t.Errorf("ReadAll = %q, %v after %d calls; want the object after 3", got, err, calls.Load())
	}

	fail.Store(true)
	calls.Store(0)
	t.Setenv("AWS_MAX_ATTEMPTS", "3")
	b, err = Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = b.ReadAll(ctx, "obj")
	if err == nil || !strings.Contains(err.Error(), "InternalError") || calls.Load() != 3 {
		t.Errorf("ReadAll from a failing store: %v after %d calls; want InternalError after 3", err, calls.Load())
	}
}

// TestAbortAfterCancel: a multipart upload whose context is cancelled while a
// part is in flight is aborted on the server, although the context that the
// transfer manager aborts with is done.
func TestAbortAfterCancel(t *testing.T) {
	var mu sync.Mutex
	var log []string
	partStarted := make(chan struct{}, 1)
	release := make(chan struct{})
	url := fakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var op string
		switch {
		case r.Method == http.MethodPost && q.Has("uploads"):
			op = "create"
			_, _ = fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>big</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>`)
		case r.Method == http.MethodPut && q.Has("partNumber"):
			// Logged as it arrives: the handler ends only when the client
			// has left, which may be after the abort came in on another
			// connection.
			mu.Lock()
			log = append(log, "part")
			mu.Unlock()
			_, _ = io.Copy(io.Discard, r.Body) // then the server notices the client leave
			select {
			case partStarted <- struct{}{}:
			default:
			}
			select { // hold the part until the client gives up on it
			case <-r.Context().Done():
			case <-release:
			}
		case r.Method == http.MethodDelete && q.Get("uploadId") == "u1":
			op = "abort"
			w.WriteHeader(http.StatusNoContent)
		default:
			op = r.Method + " " + r.URL.String()
			s3Error(w, http.StatusBadRequest, "Unexpected")
		}
		if op == "" {
			return
		}
		mu.Lock()
		log = append(log, op)
		mu.Unlock()
	})
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for handlers
	b, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := b.NewWriter(ctx, "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	written := make(chan error, 1)
	go func() {
		for range 17 { // past the 16 MiB from which uploads are multipart
			if _, err := w.Write(chunk); err != nil {
				written <- err
				return
			}
		}
		written <- nil
	}()
	<-partStarted
	cancel()
	// The writes may end before the cancel or fail with it: Close is what must
	// report it.
	t.Logf("writes ended with %v", <-written)
	if err := w.Close(); !errors.Is(err, context.Canceled) {
		t.Errorf("Close after cancel: %v, want context.Canceled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(log) == 0 || log[0] != "create" || log[len(log)-1] != "abort" {
		t.Errorf("the server saw %v, want create, parts, abort", log)
	}
}

// TestOpenS3Params: s3blob's URL parameters keep working with kferry's own
// client, and bad ones are still refused.
func TestOpenS3Params(t *testing.T) {
	url := fakeS3(t, func(w http.ResponseWriter, r *http.Request) { s3Error(w, http.StatusNotFound, "NoSuchKey") })
	ctx := context.Background()
	for _, extra := range []string{"&ssetype=AES256", "&kmskeyid=k1&ssetype=aws:kms", "&disable_https=true", "&s3ForcePathStyle=true", "&rate_limiter_capacity=100", "&accelerate=false"} {
		b, err := Open(ctx, url+extra)
		if err != nil {
			t.Errorf("Open(%s): %v", extra, err)
			continue
		}
		b.Close()
	}
	for _, extra := range []string{"&ssetype=bogus", "&disable_https=maybe", "&no_such_param=1", "&rate_limiter_capacity=x"} {
		if b, err := Open(ctx, url+extra); err == nil {
			b.Close()
			t.Errorf("Open(%s) succeeded", extra)
		}
	}
	if _, err := Open(ctx, url+"&no_such_param=1"); !errors.Is(err, ErrBadURL) {
		t.Errorf("unknown parameter: %v, want ErrBadURL", err)
	}
	t.Setenv(StallTimeoutEnv, "soon")
	if _, err := Open(ctx, url); err == nil || !strings.Contains(err.Error(), StallTimeoutEnv) {
		t.Errorf("bad %s: %v", StallTimeoutEnv, err)
	}
}
