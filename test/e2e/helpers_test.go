package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// msg is a record as kcat produces and consumes it. Nil pointers are nulls.
type msg struct {
	Key     *string
	Value   *string
	Headers []header
}

type header struct {
	Key   string
	Value *string
}

func str(s string) *string { return &s }

// batch is what one kcat producer run writes: records into one partition, all
// with the same headers (kcat's -H applies to every record of a run).
type batch struct {
	partition int32
	headers   []header
	records   [][2]string // key, value; neither may hold a newline, the key no ':'
}

// msgs returns the records the batch produces, headers included.
func (b batch) msgs() []msg {
	var out []msg
	for _, r := range b.records {
		out = append(out, msg{Key: str(r[0]), Value: str(r[1]), Headers: b.headers})
	}
	return out
}

// kcatProduce writes each batch with one `kcat -P` run from a file and returns the
// records per partition in the order they were produced.
func kcatProduce(t *testing.T, brokers, topic string, batches []batch) map[int32][]msg {
	t.Helper()
	want := map[int32][]msg{}
	for i, b := range batches {
		var body bytes.Buffer
		for _, r := range b.records {
			if strings.ContainsAny(r[0], ":\n") || strings.Contains(r[1], "\n") {
				t.Fatalf("record %q cannot be produced with -K: line by line", r)
			}
			fmt.Fprintf(&body, "%s:%s\n", r[0], r[1])
		}
		file := filepath.Join(t.TempDir(), fmt.Sprintf("batch-%d.txt", i))
		if err := os.WriteFile(file, body.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"-P", "-b", brokers, "-t", topic, "-p", strconv.Itoa(int(b.partition)), "-K:", "-l"}
		for _, h := range b.headers {
			if h.Value == nil {
				args = append(args, "-H", h.Key)
			} else {
				args = append(args, "-H", h.Key+"="+*h.Value)
			}
		}
		kcat(t, append(args, file)...)
		want[b.partition] = append(want[b.partition], b.msgs()...)
	}
	return want
}

// kcatConsume reads the whole topic with `kcat -C -e -J` (exact for UTF-8 text:
// keys, values and headers come as JSON strings or null) and returns its records
// per partition in offset order.
func kcatConsume(t *testing.T, brokers, topic string) map[int32][]msg {
	t.Helper()
	out := kcat(t, "-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-J", "-q")
	type line struct {
		Partition int32     `json:"partition"`
		Offset    int64     `json:"offset"`
		Key       *string   `json:"key"`
		Payload   *string   `json:"payload"`
		Headers   []*string `json:"headers"`
	}
	var lines []line
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("kcat -J line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	sort.SliceStable(lines, func(i, j int) bool {
		if lines[i].Partition != lines[j].Partition {
			return lines[i].Partition < lines[j].Partition
		}
		return lines[i].Offset < lines[j].Offset
	})
	got := map[int32][]msg{}
	for _, l := range lines {
		m := msg{Key: l.Key, Value: l.Payload}
		if len(l.Headers)%2 != 0 {
			t.Fatalf("kcat headers %v: odd length", l.Headers)
		}
		for i := 0; i < len(l.Headers); i += 2 {
			if l.Headers[i] == nil {
				t.Fatalf("kcat headers %v: null name", l.Headers)
			}
			m.Headers = append(m.Headers, header{Key: *l.Headers[i], Value: l.Headers[i+1]})
		}
		got[l.Partition] = append(got[l.Partition], m)
	}
	return got
}

// kcat runs kcat and returns its stdout; any failure ends the test.
func kcat(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.kcat, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// s3Client is an AWS SDK client for the test server with the given keys.
func s3Client(access, secret string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(env.s3Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(access, secret, ""),
	})
}

var bucketSeq atomic.Int64

// bucketName is a fresh, valid bucket name that hints at the test.
func bucketName(t *testing.T) string {
	name := strings.ToLower(t.Name())
	name = regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(name, "-")
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("e2e-%s-%d-%d", strings.Trim(name, "-"), os.Getpid()%100000, bucketSeq.Add(1))
}

// createBucket creates a bucket owned by the root user and returns its name.
func createBucket(t *testing.T) string {
	t.Helper()
	name := bucketName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s3Client(env.s3Access, env.s3Secret).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// putObject writes one object as the root user.
func putObject(t *testing.T, bucket, key string, body []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s3Client(env.s3Access, env.s3Secret).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
}

// listObjects returns every key of the bucket, as the root user.
func listObjects(t *testing.T, bucket string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var keys []string
	p := s3.NewListObjectsV2Paginator(s3Client(env.s3Access, env.s3Secret), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list s3://%s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// s3URL is kferry's URL for a bucket on the test server.
func s3URL(bucket string) string {
	return "s3://" + bucket + "?endpoint=" + env.s3Endpoint + "&use_path_style=true&region=us-east-1"
}

// s3Env passes keys to kferry the standard AWS way.
func s3Env(access, secret string) []string {
	return []string{"AWS_ACCESS_KEY_ID=" + access, "AWS_SECRET_ACCESS_KEY=" + secret}
}

// rootEnv is s3Env with the root user's keys.
func rootEnv() []string { return s3Env(env.s3Access, env.s3Secret) }

// fileURL is a file:// bucket in a fresh temporary folder.
func fileURL(t *testing.T) (string, string) {
	dir := t.TempDir()
	return "file://" + dir, dir
}
