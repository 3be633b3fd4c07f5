package store

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gocloud.dev/blob"
)

// memS3 is an in-memory S3 endpoint on one bucket ("bkt") for protocol tests:
// PutObject, multipart uploads, HeadObject, GetObject, ListObjectsV2 and
// GetObjectLockConfiguration. It refuses a body whose x-amz-checksum-crc32
// header does not match, and records the operation and headers of every
// request. hook, when set before the first request, may answer a request
// itself by returning true.
type memS3 struct {
	t       *testing.T
	mu      sync.Mutex
	objects map[string]memObject
	uploads map[string]map[int32][]byte // upload id → part number → body
	nextID  int
	seen    []seenRequest
	hook    func(op, key string, w http.ResponseWriter, r *http.Request) bool
}

type memObject struct {
	body []byte
	etag string // unquoted
}

type seenRequest struct {
	op, key string
	header  http.Header
}

// newMemS3 starts a memS3 and returns it with its bucket URL.
func newMemS3(t *testing.T) (*memS3, string) {
	m := &memS3{t: t, objects: map[string]memObject{}, uploads: map[string]map[int32][]byte{}}
	return m, fakeS3(t, m.serve)
}

// ops returns the operations seen so far, in order.
func (m *memS3) ops() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, s := range m.seen {
		out = append(out, s.op)
	}
	return out
}

// requests returns the requests of operation op seen so far.
func (m *memS3) requests(op string) []seenRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []seenRequest
	for _, s := range m.seen {
		if s.op == op {
			out = append(out, s)
		}
	}
	return out
}

func (m *memS3) object(key string) (memObject, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	return o, ok
}

func (m *memS3) putObject(key string, body []byte) {
	sum := md5.Sum(body)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[key] = memObject{body: body, etag: hex.EncodeToString(sum[:])}
}

func operation(r *http.Request) (op, key string) {
	q := r.URL.Query()
	key = strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/bkt"), "/")
	if key == "" {
		switch {
		case q.Has("object-lock"):
			return "GetObjectLockConfiguration", ""
		case r.Method == http.MethodGet:
			return "ListObjectsV2", ""
		}
		return r.Method + " bucket", ""
	}
	switch {
	case r.Method == http.MethodPut && q.Has("partNumber"):
		return "UploadPart", key
	case r.Method == http.MethodPut:
		return "PutObject", key
	case r.Method == http.MethodPost && q.Has("uploads"):
		return "CreateMultipartUpload", key
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return "CompleteMultipartUpload", key
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		return "AbortMultipartUpload", key
	case r.Method == http.MethodHead:
		return "HeadObject", key
	case r.Method == http.MethodGet:
		return "GetObject", key
	}
	return r.Method + " object", key
}

func (m *memS3) serve(w http.ResponseWriter, r *http.Request) {
	op, key := operation(r)
	m.mu.Lock()
	m.seen = append(m.seen, seenRequest{op: op, key: key, header: r.Header.Clone()})
	m.mu.Unlock()
	if m.hook != nil && m.hook(op, key, w, r) {
		return
	}
	switch op {
	case "GetObjectLockConfiguration":
		_, _ = fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>`)
	case "ListObjectsV2":
		_, _ = fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bkt</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`)
	case "PutObject":
		body, ok := m.body(w, r)
		if ok {
			m.putObject(key, body)
			o, _ := m.object(key)
			w.Header().Set("ETag", `"`+o.etag+`"`)
		}
	case "CreateMultipartUpload":
		m.mu.Lock()
		m.nextID++
		id := "u" + strconv.Itoa(m.nextID)
		m.uploads[id] = map[int32][]byte{}
		m.mu.Unlock()
		_, _ = fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>%s</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>`, key, id)
	case "UploadPart":
		m.uploadPart(w, r)
	case "CompleteMultipartUpload":
		etag, code := m.complete(r, key)
		if code != "" {
			s3Error(w, http.StatusNotFound, code)
			return
		}
		_, _ = fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult><Bucket>bkt</Bucket><Key>%s</Key><ETag>"%s"</ETag></CompleteMultipartUploadResult>`, key, etag)
	case "AbortMultipartUpload":
		m.mu.Lock()
		delete(m.uploads, r.URL.Query().Get("uploadId"))
		m.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case "HeadObject", "GetObject":
		o, ok := m.object(key)
		if !ok {
			s3Error(w, http.StatusNotFound, "NoSuchKey")
			return
		}
		w.Header().Set("ETag", `"`+o.etag+`"`)
		w.Header().Set("Content-Length", strconv.Itoa(len(o.body)))
		if op == "GetObject" {
			_, _ = w.Write(o.body)
		}
	default:
		s3Error(w, http.StatusNotImplemented, "NotImplemented")
	}
}

// body reads a request body and checks it against its CRC32 header, answering
// BadDigest on a mismatch.
func (m *memS3) body(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
		m.t.Errorf("memS3 does not decode aws-chunked bodies")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s3Error(w, http.StatusBadRequest, "IncompleteBody")
		return nil, false
	}
	if want := r.Header.Get("x-amz-checksum-crc32"); want != "" {
		sum := binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(body))
		if got := base64.StdEncoding.EncodeToString(sum); got != want {
			s3Error(w, http.StatusBadRequest, "BadDigest")
			return nil, false
		}
		w.Header().Set("x-amz-checksum-crc32", want)
	}
	return body, true
}

func (m *memS3) uploadPart(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err := strconv.Atoi(q.Get("partNumber"))
	if err != nil {
		s3Error(w, http.StatusBadRequest, "InvalidArgument")
		return
	}
	body, ok := m.body(w, r)
	if !ok {
		return
	}
	m.mu.Lock()
	parts, ok := m.uploads[q.Get("uploadId")]
	if ok {
		parts[int32(n)] = body
	}
	m.mu.Unlock()
	if !ok {
		s3Error(w, http.StatusNotFound, "NoSuchUpload")
		return
	}
	sum := md5.Sum(body)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
}

// complete assembles the upload of r as S3 does, with the multipart ETag, and
// returns that ETag, or the error code.
func (m *memS3) complete(r *http.Request, key string) (etag, code string) {
	var req struct {
		Parts []struct {
			PartNumber int32
			ETag       string
		} `xml:"Part"`
	}
	if err := xml.NewDecoder(r.Body).Decode(&req); err != nil {
		return "", "MalformedXML"
	}
	id := r.URL.Query().Get("uploadId")
	m.mu.Lock()
	defer m.mu.Unlock()
	parts, ok := m.uploads[id]
	if !ok {
		return "", "NoSuchUpload"
	}
	sort.Slice(req.Parts, func(i, j int) bool { return req.Parts[i].PartNumber < req.Parts[j].PartNumber })
	var body, sums []byte
	for _, p := range req.Parts {
		part, ok := parts[p.PartNumber]
		sum := md5.Sum(part)
		if !ok || strings.Trim(p.ETag, `"`) != hex.EncodeToString(sum[:]) {
			return "", "InvalidPart"
		}
		body = append(body, part...)
		sums = append(sums, sum[:]...)
	}
	delete(m.uploads, id)
	etag = fmt.Sprintf("%x-%d", md5.Sum(sums), len(req.Parts))
	m.objects[key] = memObject{body: body, etag: etag}
	return etag, ""
}

// bigObject is past the 16 MiB from which uploads are multipart.
func bigObject() []byte {
	b := bytes.Repeat([]byte("0123456789abcdef"), (17<<20)/16)
	copy(b, "big object")
	return b
}

// writeObject writes body to key through a blob writer, in 1 MiB writes, as the
// pipeline streams objects.
func writeObject(ctx context.Context, b *blob.Bucket, key string, body []byte) error {
	w, err := b.NewWriter(ctx, key, nil)
	if err != nil {
		return err
	}
	for len(body) > 0 {
		n := min(len(body), 1<<20)
		if _, err := w.Write(body[:n]); err != nil {
			_ = w.Close()
			return err
		}
		body = body[n:]
	}
	return w.Close()
}
