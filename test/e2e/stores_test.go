package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"google.golang.org/api/option"

	"github.com/kferry/kferry/pkg/record"
)

// wrongAzureKey is a well-formed Azure account key (base64) that is no
// account's; like the real keys it must never appear in kferry's output.
const wrongAzureKey = "d3Jvbmcta2V5LW9mLW5vLWF6dXJlLWFjY291bnQtN2Y0ZQ=="

// Round trips through every store: the records of roundTripPartitions
// partitions, roundTripPerPart each, in objects of roundTripFlush records.
const (
	roundTripPartitions = 3
	roundTripPerPart    = 240
	roundTripFlush      = 50
)

// TestStoreRoundTrip: export to each store and import back from it, renamed,
// through the binary with the store's URL and credentials as a user gives
// them: a local folder, S3 (versitygw), Cloud Storage (fake-gcs-server) and
// Azure Blob (Azurite), the cloud ones under a key prefix. `ls` lists the
// objects, and the renamed topic holds every record once, in order, with its
// key, value and headers.
func TestStoreRoundTrip(t *testing.T) {
	for _, st := range []struct {
		name   string
		bucket func(t *testing.T) (url string, env []string)
	}{
		{"file", func(t *testing.T) (string, []string) {
			u, _ := fileURL(t)
			return u, nil
		}},
		{"s3", func(t *testing.T) (string, []string) {
			needS3(t)
			return "s3://" + createBucket(t) + "/exports/eu?endpoint=" + env.s3Endpoint + "&use_path_style=true&region=us-east-1", rootEnv()
		}},
		{"gcs", func(t *testing.T) (string, []string) {
			needGCS(t)
			return "gs://" + createGCSBucket(t) + "/exports/eu", gcsEnv()
		}},
		{"azure", func(t *testing.T) (string, []string) {
			needAzure(t)
			return azureURL(createContainer(t, env.azureAccount, env.azureKey), "/exports/eu", env.azureEndpoint), azureEnv(env.azureAccount, env.azureKey)
		}},
	} {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			bucket, vars := st.bucket(t)
			c, brokers := newCluster(t, map[string]int32{sourceTopic: roundTripPartitions})
			want := roundTripRecords()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := c.Produce(ctx, want); err != nil {
				t.Fatalf("produce: %v", err)
			}
			r := kferry(t, runOpts{env: vars}, "export", "--brokers", brokers, "--topics", sourceTopic,
				"--format", "bytes", "--store-keys", "--store-headers", "--flush-size", fmt.Sprint(roundTripFlush), "--to", bucket)
			mustSucceed(t, r)
			if !strings.Contains(r.stdout, fmt.Sprintf("total: %d records", len(want))) {
				t.Errorf("export summary does not say %d records:\n%s", len(want), r.stdout)
			}
			checkListed(t, bucket, vars)

			mustSucceed(t, kferry(t, runOpts{env: vars}, "import", "--brokers", brokers, "--from", bucket, "--rename", rename))
			got := readTopics(t, c.Config(), []string{sinkTopic})[sinkTopic]
			for p := range int32(roundTripPartitions) {
				var wantP []record.Record
				for _, rec := range want {
					if rec.Partition == p {
						wantP = append(wantP, rec)
					}
				}
				if problem := sameRecords(wantP, got[p]); problem != "" {
					t.Errorf("%s/%d: %s", sinkTopic, p, problem)
				}
			}
		})
	}
}

// TestStoreRoundTripMem: mem:// lives in one process, so its round trip is a
// one-shot migrate, which exports and imports through it together.
func TestStoreRoundTripMem(t *testing.T) {
	t.Parallel()
	src, srcBrokers := newCluster(t, map[string]int32{sourceTopic: roundTripPartitions})
	dst, dstBrokers := newCluster(t, nil)
	want := roundTripRecords()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := src.Produce(ctx, want); err != nil {
		t.Fatalf("produce: %v", err)
	}
	mustSucceed(t, kferry(t, runOpts{}, "migrate", "--source-brokers", srcBrokers, "--target-brokers", dstBrokers,
		"--topics", sourceTopic, "--rename", rename, "--via", "mem://"))
	got := readTopics(t, dst.Config(), []string{sinkTopic})[sinkTopic]
	for p := range int32(roundTripPartitions) {
		var wantP []record.Record
		for _, rec := range want {
			if rec.Partition == p {
				wantP = append(wantP, rec)
			}
		}
		if problem := sameRecords(wantP, got[p]); problem != "" {
			t.Errorf("%s/%d: %s", sinkTopic, p, problem)
		}
	}
}

// TestCloudStoreErrors: the classic bucket failures on the Cloud Storage and
// Azure emulators, for export, import and ls, each one line naming the bucket
// and the settings to check, with no secret in any output. fake-gcs-server
// checks no credentials, so Cloud Storage has no refused key here.
func TestCloudStoreErrors(t *testing.T) {
	type errCase struct {
		name      string
		need      func(*testing.T)
		url       func(t *testing.T) string
		env       []string
		fragments []string
	}
	missing := bucketName(t) + "-missing"
	cases := []errCase{
		{"gcs missing bucket", needGCS, func(*testing.T) string { return "gs://" + missing }, gcsEnv(),
			[]string{"bucket not found", "gs://" + missing, "HTTP 404"}},
		{"gcs unreachable", needGCS, func(*testing.T) string { return "gs://" + missing }, []string{"STORAGE_EMULATOR_HOST=127.0.0.1:1"},
			[]string{"bucket endpoint unreachable", "STORAGE_EMULATOR_HOST", "connection refused"}},
		{"azure missing container", needAzure, func(*testing.T) string { return azureURL(missing, "", env.azureEndpoint) },
			azureEnv(env.azureAccount, env.azureKey), []string{"bucket not found", missing, "ContainerNotFound"}},
		// Azure answers a wrong shared key with AuthenticationFailed,
		// Azurite with AuthorizationFailure; both are access denied.
		{"azure wrong key", needAzure, func(t *testing.T) string {
			return azureURL(createContainer(t, env.azureAccount, env.azureKey), "", env.azureEndpoint)
		},
			azureEnv(env.azureAccount, wrongAzureKey), []string{"access to bucket denied", "AZURE_STORAGE_KEY", "AuthorizationFailure"}},
		{"azure unreachable", needAzure, func(*testing.T) string { return azureURL(missing, "", "http://127.0.0.1:1") },
			azureEnv(env.azureAccount, env.azureKey), []string{"bucket endpoint unreachable", "domain=", "connection refused"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.need(t)
			t.Parallel()
			_, brokers := newCluster(t, map[string]int32{"t": 1})
			u := tc.url(t)
			runs := [][]string{
				{"export", "--brokers", brokers, "--topics", "t", "--to", u},
				{"import", "--brokers", brokers, "--from", u},
				{"ls", u},
			}
			if strings.HasSuffix(tc.name, "unreachable") {
				// Cloud Storage's client retries a refused connection until
				// kferry's check gives up (store.CheckTimeout): one run tells.
				runs = runs[2:]
			}
			for _, args := range runs {
				r := kferry(t, runOpts{env: tc.env, timeout: 90 * time.Second}, args...)
				wantError(t, r, 1, tc.fragments...)
			}
		})
	}
}

// roundTripRecords are the records of the round trips: keys, binary values of
// a few KiB (without the bytes format's separator), text headers (Confluent
// header objects hold strings).
func roundTripRecords() []record.Record {
	var out []record.Record
	for p := range int32(roundTripPartitions) {
		for i := range roundTripPerPart {
			value := fmt.Appendf(nil, "record %d of partition %d: ", i, p)
			for j := range 1000 + 7*i {
				b := byte(i*31 + j)
				if b == '\n' { // the bytes format's separator
					b = 0
				}
				value = append(value, b)
			}
			out = append(out, record.Record{
				Topic: sourceTopic, Partition: p,
				Key:     fmt.Appendf(nil, "key-%d-%d", p, i),
				Value:   value,
				Headers: []record.Header{{Key: "trace", Value: fmt.Appendf(nil, "t-%d-%d", p, i)}, {Key: "note", Value: fmt.Appendf(nil, "ünï ✓ %d", i)}},
			})
		}
	}
	return out
}

// sameRecords reports how got differs from want in keys, values and headers
// (bytes objects keep no timestamps), or "".
func sameRecords(want, got []record.Record) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d records, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if string(w.Key) != string(g.Key) || string(w.Value) != string(g.Value) || !slices.EqualFunc(w.Headers, g.Headers, func(a, b record.Header) bool {
			return a.Key == b.Key && string(a.Value) == string(b.Value)
		}) {
			return fmt.Sprintf("record %d is key %q with %d value bytes and headers %v, want key %q with %d and %v", i, g.Key, len(g.Value), g.Headers, w.Key, len(w.Value), w.Headers)
		}
	}
	return ""
}

// checkListed asserts that `kferry ls` lists the exported objects of every
// partition (the listing of each store, through the binary).
func checkListed(t *testing.T, bucket string, vars []string) {
	t.Helper()
	r := kferry(t, runOpts{env: vars}, "ls", "--json", bucket)
	mustSucceed(t, r)
	var got struct {
		Partitions []struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
			Objects   int    `json:"objects"`
			Keys      int    `json:"keys_objects"`
			Headers   int    `json:"headers_objects"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("ls --json: %v\n%s", err, r.stdout)
	}
	const objects = (roundTripPerPart + roundTripFlush - 1) / roundTripFlush
	if len(got.Partitions) != roundTripPartitions {
		t.Fatalf("ls lists %d partitions, want %d:\n%s", len(got.Partitions), roundTripPartitions, r.stdout)
	}
	for _, p := range got.Partitions {
		if p.Topic != sourceTopic || p.Objects != objects || p.Keys != objects || p.Headers != objects {
			t.Errorf("ls: %s/%d with %d objects (%d keys, %d headers), want %s with %d of each", p.Topic, p.Partition, p.Objects, p.Keys, p.Headers, sourceTopic, objects)
		}
	}
}

// gcsEnv points gs:// URLs at the test's Cloud Storage emulator, the way a
// user does.
func gcsEnv() []string {
	return []string{"STORAGE_EMULATOR_HOST=" + strings.TrimPrefix(env.gcsEndpoint, "http://")}
}

// createGCSBucket creates a bucket on the Cloud Storage emulator and returns
// its name.
func createGCSBucket(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := storage.NewClient(ctx, option.WithEndpoint(env.gcsEndpoint+"/storage/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	name := bucketName(t)
	if err := client.Bucket(name).Create(ctx, "kferry-test", nil); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// azureEnv gives kferry an Azure account and shared key, the way a user does.
func azureEnv(account, key string) []string {
	return []string{"AZURE_STORAGE_ACCOUNT=" + account, "AZURE_STORAGE_KEY=" + key}
}

// azureURL is kferry's URL for a container on the Azure emulator at endpoint,
// with a key prefix ("" or "/a/b").
func azureURL(container, prefix, endpoint string) string {
	return "azblob://" + container + prefix + "?protocol=http&domain=" + url.QueryEscape(strings.TrimPrefix(endpoint, "http://"))
}

// createContainer creates a container in account on the Azure emulator and
// returns its name.
func createContainer(t *testing.T, account, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cred, err := azblob.NewSharedKeyCredential(account, key)
	if err != nil {
		t.Fatal(err)
	}
	client, err := azblob.NewClientWithSharedKeyCredential(env.azureEndpoint+"/"+account, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	name := bucketName(t)
	if _, err := client.CreateContainer(ctx, name, nil); err != nil {
		t.Fatalf("create container %s: %v", name, err)
	}
	return name
}
