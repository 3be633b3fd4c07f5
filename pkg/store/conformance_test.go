package store_test

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"google.golang.org/api/option"

	"github.com/kferry/kferry/pkg/store/storetest"
)

// The conformance suite against every store. mem:// and file:// need
// nothing; S3, Cloud Storage and Azure Blob run against the real protocol
// servers that scripts/test-env.sh starts (versitygw, fake-gcs-server,
// Azurite) and skip without them, or fail under CI=true.

func TestConformanceMem(t *testing.T) {
	storetest.Run(t, storetest.Target{
		Fresh:    func(*testing.T) string { return "mem://" },
		Isolated: true,
		// No missing buckets, no credentials, no endpoint.
	})
}

func TestConformanceFile(t *testing.T) {
	// Denied is not run: permissions do not bind root, whom the tests may
	// run as.
	storetest.Run(t, storetest.Target{
		Fresh:   func(t *testing.T) string { return "file://" + filepath.ToSlash(t.TempDir()) },
		Missing: func(t *testing.T) string { return "file://" + filepath.ToSlash(filepath.Join(t.TempDir(), "missing")) },
	})
}

func TestConformanceS3(t *testing.T) {
	v := needEnv(t, "versitygw", "KFERRY_TEST_S3_ENDPOINT", "KFERRY_TEST_S3_ACCESS_KEY", "KFERRY_TEST_S3_SECRET_KEY",
		"KFERRY_TEST_S3_USER_ACCESS_KEY", "KFERRY_TEST_S3_USER_SECRET_KEY")
	endpoint, access, secret, userAccess, userSecret := v[0], v[1], v[2], v[3], v[4]
	awsEnv(t, access, secret)
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(access, secret, ""),
	})
	bucketURL := func(bucket, endpoint string) string {
		return "s3://" + bucket + "?endpoint=" + endpoint + "&use_path_style=true&region=us-east-1"
	}
	create := func(t *testing.T) string {
		t.Helper()
		name := bucketName()
		if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Fatalf("create bucket %s: %v", name, err)
		}
		return name
	}
	storetest.Run(t, storetest.Target{
		Fresh:   func(t *testing.T) string { return bucketURL(create(t), endpoint) },
		Missing: func(*testing.T) string { return bucketURL(bucketName(), endpoint) },
		// versitygw's user of role "user" owns none of the root user's
		// buckets: a genuine AccessDenied.
		Denied: func(t *testing.T) string {
			name := create(t)
			awsEnv(t, userAccess, userSecret)
			return bucketURL(name, endpoint)
		},
		Unreachable: func(t *testing.T) string { return bucketURL("bkt", "http://"+closedAddr(t)) },
		Secrets:     []string{secret, userSecret},
	})
}

func TestConformanceGCS(t *testing.T) {
	v := needEnv(t, "fake-gcs-server", "KFERRY_TEST_GCS_ENDPOINT")
	endpoint := v[0]
	// What a user sets to point gs:// URLs at an emulator.
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(endpoint, "http://"))
	client, err := storage.NewClient(t.Context(), option.WithEndpoint(endpoint+"/storage/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	storetest.Run(t, storetest.Target{
		Fresh: func(t *testing.T) string {
			name := bucketName()
			if err := client.Bucket(name).Create(t.Context(), "kferry-test", nil); err != nil {
				t.Fatalf("create bucket %s: %v", name, err)
			}
			return "gs://" + name
		},
		Missing: func(*testing.T) string { return "gs://" + bucketName() },
		// Denied is not run: fake-gcs-server checks no credentials and has
		// no IAM, so it grants everything. TestClassify covers Cloud
		// Storage's 401 and 403 answers.
		Unreachable: func(t *testing.T) string {
			t.Setenv("STORAGE_EMULATOR_HOST", closedAddr(t))
			return "gs://" + bucketName()
		},
	})
}

func TestConformanceAzure(t *testing.T) {
	v := needEnv(t, "Azurite", "KFERRY_TEST_AZURE_ENDPOINT", "KFERRY_TEST_AZURE_ACCOUNT", "KFERRY_TEST_AZURE_KEY",
		"KFERRY_TEST_AZURE_OTHER_ACCOUNT", "KFERRY_TEST_AZURE_OTHER_KEY")
	endpoint, account, key, other, otherKey := v[0], v[1], v[2], v[3], v[4]
	// What a user sets for a storage account with a shared key. gocloud reads
	// them once per process, at the first azblob:// URL.
	t.Setenv("AZURE_STORAGE_ACCOUNT", account)
	t.Setenv("AZURE_STORAGE_KEY", key)
	host := strings.TrimPrefix(endpoint, "http://")
	// domain= and protocol= point the URL at the emulator (a 127.0.0.1
	// domain puts the account in the path, as Azurite wants).
	containerURL := func(name, host, extra string) string {
		return "azblob://" + name + "?protocol=http&domain=" + url.QueryEscape(host) + extra
	}
	create := func(t *testing.T, account, key string) string {
		t.Helper()
		cred, err := azblob.NewSharedKeyCredential(account, key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := azblob.NewClientWithSharedKeyCredential(endpoint+"/"+account, cred, nil)
		if err != nil {
			t.Fatal(err)
		}
		name := bucketName()
		if _, err := c.CreateContainer(t.Context(), name, nil); err != nil {
			t.Fatalf("create container %s in %s: %v", name, account, err)
		}
		return name
	}
	storetest.Run(t, storetest.Target{
		Fresh:   func(t *testing.T) string { return containerURL(create(t, account, key), host, "") },
		Missing: func(*testing.T) string { return containerURL(bucketName(), host, "") },
		// A container of another account, with this account's key: the key
		// is wrong for it (AuthenticationFailed). The key in use cannot be
		// changed in-process (see above); test/e2e runs the binary with a
		// wrong key. Azurite has no RBAC to refuse a valid key.
		Denied: func(t *testing.T) string {
			return containerURL(create(t, other, otherKey), host, "&storage_account="+other)
		},
		Unreachable: func(t *testing.T) string { return containerURL(bucketName(), closedAddr(t), "") },
		Secrets:     []string{key, otherKey},
		// gocloud's azureblob writer (v0.47.0, and upstream's main as of
		// this writing) panics in Close after a failed upload; kferry closes
		// every writer through store.CloseWriter, which the suite uses too.
	})
}

// needEnv returns the values of the environment variables names, which
// scripts/test-env.sh sets after starting service. Without them the test
// skips, or fails under CI=true, where every service must be there.
func needEnv(t *testing.T, service string, names ...string) []string {
	t.Helper()
	var values, missing []string
	for _, n := range names {
		v := os.Getenv(n)
		if v == "" {
			missing = append(missing, n)
		}
		values = append(values, v)
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("%s not set: run the tests through scripts/test-env.sh (make test), which starts %s", strings.Join(missing, ", "), service)
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but " + msg)
		}
		t.Skip(msg)
	}
	return values
}

// awsEnv gives the AWS SDK these keys and nothing else from the machine.
func awsEnv(t *testing.T, access, secret string) {
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": "",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_PROFILE": "", "AWS_MAX_ATTEMPTS": "",
	} {
		t.Setenv(k, v)
	}
}

var bucketSeq atomic.Int64

// bucketName is a bucket (or container) name valid on every store and used
// once.
func bucketName() string {
	return fmt.Sprintf("kferry-conf-%d-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6, bucketSeq.Add(1))
}

// closedAddr is a 127.0.0.1 address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
