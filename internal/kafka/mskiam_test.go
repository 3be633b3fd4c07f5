package kafka

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestMSKIAMPayloadIsAValidSigV4Presign checks the SASL AWS_MSK_IAM payload that
// kferry sends (franz-go's signer, fed from the AWS credential chain) against
// the AWS SDK's own SigV4 presigner: same credentials, host, time and query
// must give the same signature.
func TestMSKIAMPayloadIsAValidSigV4Presign(t *testing.T) {
	const (
		access  = "AKIDEXAMPLE"
		secret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
		session = "FwoGZXIvYXdzEXAMPLETOKEN"
		host    = "b-1.mycluster.abc123.c2.kafka.eu-west-1.amazonaws.com"
	)
	t.Setenv("AWS_ACCESS_KEY_ID", access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", session)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	mech, err := Security{SASLMechanism: "aws-msk-iam"}.mechanism()
	if err != nil {
		t.Fatal(err)
	}
	if mech.Name() != "AWS_MSK_IAM" {
		t.Fatalf("mechanism %s", mech.Name())
	}
	_, payload, err := mech.Authenticate(context.Background(), host+":9098")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(payload, &got); err != nil {
		t.Fatalf("payload is not JSON: %v", err)
	}
	for k, want := range map[string]string{
		"version": "2020_10_22", "host": host, "action": "kafka-cluster:Connect",
		"x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-signedheaders": "host", "x-amz-expires": "900",
		"x-amz-security-token": session,
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	signed, err := time.Parse("20060102T150405Z", got["x-amz-date"])
	if err != nil {
		t.Fatalf("x-amz-date %q: %v", got["x-amz-date"], err)
	}
	wantCred := access + "/" + signed.Format("20060102") + "/eu-west-1/kafka-cluster/aws4_request"
	if got["x-amz-credential"] != wantCred {
		t.Errorf("credential = %q, want %q", got["x-amz-credential"], wantCred)
	}

	// The reference: the SDK presigns the same GET with the same inputs.
	q := url.Values{"Action": {"kafka-cluster:Connect"}, "X-Amz-Expires": {"900"}}
	req, _ := http.NewRequest(http.MethodGet, "https://"+host+"/?"+strings.ReplaceAll(q.Encode(), "+", "%20"), nil)
	const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	presigned, _, err := v4.NewSigner().PresignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: access, SecretAccessKey: secret, SessionToken: session},
		req, emptyHash, "kafka-cluster", "eu-west-1", signed)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(presigned)
	want := u.Query().Get("X-Amz-Signature")
	if want == "" || got["x-amz-signature"] != want {
		t.Errorf("signature = %q, the SDK's SigV4 gives %q", got["x-amz-signature"], want)
	}
	if strings.Contains(string(payload), secret) {
		t.Error("the payload carries the secret key")
	}
}
