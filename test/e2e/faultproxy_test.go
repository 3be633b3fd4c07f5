package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// faults say what a faultProxy does to the requests it forwards.
type faults struct {
	slowDown  float64 // share of requests answered 503 SlowDown, not forwarded
	reset     float64 // share of PUTs with a body whose connection is reset mid-body
	stallPut  bool    // stall the next PUT of at least stallMin bytes mid-body (once)
	stallGet  bool    // stall the next GET answered with at least stallMin bytes mid-body (once)
	failParts bool    // answer every UploadPart with 500 InternalError
	stallPuts bool    // stall every PUT mid-body
}

const (
	// stallFor is how long the proxy holds a stalled request (unless the client
	// leaves first); clients give up after KFERRY_S3_STALL_TIMEOUT.
	stallFor = 30 * time.Second
	// stallMin is the size from which a PUT or GET may be stalled: a multipart
	// part, or a large object.
	stallMin = 1 << 20
)

// faultProxy is an HTTP reverse proxy on 127.0.0.1 in front of the test S3
// server that injects faults, decided by a random source with a fixed seed. The
// Host header is kept, so the clients' SigV4 signatures stay valid.
type faultProxy struct {
	url  string
	stop chan struct{} // closed at cleanup: stalled requests end

	mu     sync.Mutex
	rng    *rand.Rand
	f      faults
	counts map[string]int
	stalls []string // the requests stalled since the last arm
	rp     *httputil.ReverseProxy
}

// injected is what a faultProxy did between two arms.
type injected struct {
	counts map[string]int
	stalls []string // which requests were stalled
}

func newFaultProxy(t *testing.T, seed uint64) *faultProxy {
	t.Helper()
	target, err := url.Parse(env.s3Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{stop: make(chan struct{}), rng: rand.New(rand.NewPCG(seed, seed)), counts: map[string]int{}}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		Transport:      &http.Transport{MaxIdleConnsPerHost: 32},
		FlushInterval:  -1,
		ModifyResponse: p.maybeStallBody,
		ErrorLog:       log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(p.stop) }) // runs first: stalled handlers return, Close can wait for them
	p.url = srv.URL
	return p
}

// arm replaces the faults to inject and returns what was injected since the
// last arm.
func (p *faultProxy) arm(f faults) injected {
	p.mu.Lock()
	defer p.mu.Unlock()
	done := injected{counts: p.counts, stalls: p.stalls}
	p.stalls = nil
	p.f, p.counts = f, map[string]int{}
	return done
}

// bucketURL is kferry's URL for bucket through the proxy.
func (p *faultProxy) bucketURL(bucket string) string {
	return "s3://" + bucket + "?endpoint=" + p.url + "&use_path_style=true&region=us-east-1"
}

// decide picks the fault for r, if any, and counts it.
func (p *faultProxy) decide(r *http.Request) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts["requests"]++
	put := r.Method == http.MethodPut && r.ContentLength != 0
	fault := ""
	switch {
	case p.f.failParts && put && r.URL.Query().Has("partNumber"):
		fault = "500 InternalError on UploadPart"
	case p.f.stallPuts && put:
		fault = "stall PUT mid-body"
	case p.rng.Float64() < p.f.slowDown:
		fault = "503 SlowDown"
	case put && p.f.stallPut && r.ContentLength >= stallMin:
		p.f.stallPut = false
		fault = "stall PUT mid-body"
	case put && p.rng.Float64() < p.f.reset:
		fault = "reset PUT mid-body"
	}
	if fault != "" {
		p.counts[fault]++
	}
	return fault
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch fault := p.decide(r); fault {
	case "":
		p.rp.ServeHTTP(w, r)
	case "503 SlowDown":
		_, _ = io.Copy(io.Discard, r.Body)
		writeS3Error(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	case "500 InternalError on UploadPart":
		_, _ = io.Copy(io.Discard, r.Body)
		writeS3Error(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	case "reset PUT mid-body":
		_, _ = io.CopyN(io.Discard, r.Body, max(r.ContentLength/2, 1))
		p.drop(w)
	case "stall PUT mid-body":
		_, _ = io.CopyN(io.Discard, r.Body, 256<<10)
		p.noteStall(r)
		p.stall(r.Context())
		p.drop(w)
	default:
		panic(fault)
	}
}

// maybeStallBody, while a GET stall is armed, wraps large GET response bodies
// so that the first one read past half its bytes stalls there. (A reader that
// stops early, like import's preflight reading one record, does not use the
// stall up.)
func (p *faultProxy) maybeStallBody(resp *http.Response) error {
	if resp.Request.Method != http.MethodGet || resp.StatusCode != http.StatusOK || resp.ContentLength < stallMin {
		return nil
	}
	p.mu.Lock()
	armed := p.f.stallGet
	p.mu.Unlock()
	if armed {
		resp.Body = &stallingBody{ReadCloser: resp.Body, left: resp.ContentLength / 2, p: p, ctx: resp.Request.Context()}
	}
	return nil
}

// claimStallGet reports whether a GET stall is armed, and disarms it.
func (p *faultProxy) claimStallGet() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.f.stallGet {
		return false
	}
	p.f.stallGet = false
	p.counts["stall GET mid-body"]++
	return true
}

// noteStall remembers which request is stalled.
func (p *faultProxy) noteStall(r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalls = append(p.stalls, fmt.Sprintf("%s %s (%d bytes) at %s", r.Method, r.URL.RequestURI(), r.ContentLength, time.Now().Format("15:04:05.000")))
}

// stall holds the request for stallFor, or until the client leaves or the test
// ends.
func (p *faultProxy) stall(ctx context.Context) {
	timer := time.NewTimer(stallFor)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	case <-p.stop:
	}
}

// drop closes the client's connection without an answer: with request bytes
// left unread, the client sees a reset.
func (p *faultProxy) drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// stallingBody passes left bytes of a response body, then, unless another body
// took the stall, stalls and fails, which makes the reverse proxy abort the
// response.
type stallingBody struct {
	io.ReadCloser
	left int64
	p    *faultProxy
	ctx  context.Context
}

func (b *stallingBody) Read(buf []byte) (int, error) {
	if b.left == 0 && b.p.claimStallGet() {
		b.p.stall(b.ctx)
		b.p.mu.Lock()
		b.p.stalls = append(b.p.stalls, "a GET response body")
		b.p.mu.Unlock()
		return 0, errors.New("fault proxy: stalled")
	}
	if b.left <= 0 {
		return b.ReadCloser.Read(buf)
	}
	n, err := b.ReadCloser.Read(buf[:min(int64(len(buf)), b.left)])
	b.left -= int64(n)
	return n, err
}

func writeS3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Error><Code>%s</Code><Message>%s</Message><RequestId>fault-proxy</RequestId><HostId>fault-proxy</HostId></Error>`, code, msg)
}

// incompleteUploads lists the multipart uploads of bucket that were neither
// completed nor aborted, asking the S3 server directly.
func incompleteUploads(t *testing.T, bucket string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s3Client(env.s3Access, env.s3Secret).ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("list multipart uploads of %s: %v", bucket, err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key)+" (upload "+aws.ToString(u.UploadId)+")")
	}
	return keys
}

// String prints the counts in a stable order.
func (in injected) String() string {
	counts := in.counts
	var names []string
	for n := range counts {
		if n != "requests" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	parts := []string{fmt.Sprintf("%d requests", counts["requests"])}
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s ×%d", n, counts[n]))
	}
	return strings.Join(parts, ", ")
}
