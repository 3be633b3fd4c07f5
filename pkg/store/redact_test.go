package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// redactCases are the shapes in which a bucket URL can carry a secret (and a
// few that carry none), with what Redact shows and whether Open refuses the
// URL as carrying credentials. Every case's secret is secret.
var redactCases = []struct {
	name  string
	in    string
	want  string
	creds bool // refused as carrying credentials (else maybe refused as unknown)
}{
	{"plain s3", "s3://b/p?region=eu-west-1", "s3://b/p?region=eu-west-1", false},
	{"endpoint without userinfo", "s3://b?endpoint=http://h:9000&use_path_style=true&region=r", "s3://b?endpoint=http://h:9000&use_path_style=true&region=r", false},
	{"escaped endpoint kept as written", "s3://b?endpoint=http%3A%2F%2Fh%3A9000&region=r", "s3://b?endpoint=http%3A%2F%2Fh%3A9000&region=r", false},
	{"s3 userinfo", "s3://AKIAEXAMPLE:" + secret + "@b/p", "s3://REDACTED@b/p", true},
	{"s3 userinfo with escapes", "s3://u:" + url.PathEscape(secret+"@/x") + "@b", "s3://REDACTED@b", true},
	{"userinfo in endpoint", "s3://b?region=r&endpoint=http://u:" + secret + "@h:9000", "s3://b?region=r&endpoint=http://REDACTED@h:9000", true},
	{"escaped userinfo in endpoint", "s3://b?endpoint=" + url.QueryEscape("http://u:"+secret+"@h:9000"), "s3://b?endpoint=http://REDACTED@h:9000", true},
	{"twice escaped userinfo in endpoint", "s3://b?endpoint=" + url.QueryEscape(url.QueryEscape("http://u:"+secret+"@h")), "s3://b?endpoint=REDACTED", true},
	{"userinfo without scheme in endpoint", "s3://b?endpoint=u:" + secret + "@h:9000", "s3://b?endpoint=REDACTED", true},
	{"credential parameter in endpoint", "s3://b?endpoint=" + url.QueryEscape("http://h/?X-Amz-Security-Token="+secret), "s3://b?endpoint=http://h/?X-Amz-Security-Token=REDACTED", true},
	{"aws key parameters", "s3://b?region=r&access_key_id=AKIAEXAMPLE&secret_access_key=" + secret, "s3://b?region=r&access_key_id=REDACTED&secret_access_key=REDACTED", true},
	{"session token", "s3://b?aws_session_token=" + secret, "s3://b?aws_session_token=REDACTED", true},
	{"escaped parameter name", "s3://b?secret%5Faccess%5Fkey=" + url.QueryEscape(secret+"/+="), "s3://b?secret%5Faccess%5Fkey=REDACTED", true},
	{"mixed case name", "s3://b?Secret-Key=" + secret, "s3://b?Secret-Key=REDACTED", true},
	{"presigned", "s3://b?X-Amz-Credential=AKIAEXAMPLE%2F20260101&X-Amz-Signature=" + secret, "s3://b?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED", true},
	{"broken escape", "s3://b?secret_key=" + secret + "%zz", "s3://b?secret_key=REDACTED", true},
	{"unknown s3 parameter", "s3://b?region=r&color=" + secret, "s3://b?region=r&color=REDACTED", false},
	{"file secret", "file:///tmp/x?secret=" + secret, "file:///tmp/x?secret=REDACTED", true},
	{"file password", "file:///tmp/x?password=" + secret, "file:///tmp/x?password=REDACTED", true},
	{"file unknown parameter", "file:///tmp/x?create_dir=1&note=" + secret, "file:///tmp/x?create_dir=1&note=REDACTED", false},
	{"file parameter without value", "file:///tmp/x?" + secret, "file:///tmp/x?REDACTED", false},
	{"file key path", "file:///tmp/x?base_url=http://h/&secret_key_path=/keys/" + secret, "file:///tmp/x?base_url=http://h/&secret_key_path=REDACTED", false},
	{"fragment", "file:///tmp/x#" + secret, "file:///tmp/x#REDACTED", false},
	{"mem fragment", "mem://#" + secret, "mem://#REDACTED", false},
	{"gs token", "gs://b/p?access_token=" + secret, "gs://b/p?access_token=REDACTED", true},
	{"gs service account shown", "gs://b?access_id=kferry@p.iam.gserviceaccount.com", "gs://b?access_id=kferry@p.iam.gserviceaccount.com", false},
	{"gs private key path", "gs://b?private_key_path=/k/" + secret, "gs://b?private_key_path=REDACTED", false},
	{"azblob userinfo", "azblob://acct:" + secret + "@c/p", "azblob://REDACTED@c/p", true},
	{"azblob sas", "azblob://c?sv=2022-11-02&sp=r&sig=" + secret, "azblob://c?sv=REDACTED&sp=REDACTED&sig=REDACTED", true},
	{"azblob sas token", "azblob://c?storage_account=acct&sas_token=" + secret, "azblob://c?storage_account=acct&sas_token=REDACTED", true},
	{"azblob account key", "azblob://c?account_key=" + secret, "azblob://c?account_key=REDACTED", true},
	{"mem token", "mem://?token=" + secret, "mem://?token=REDACTED", true},
	{"local path", "/plain/path", "/plain/path", false},
	{"local path with at", "u:" + secret + "@host/b", "<local path hidden: it holds '@'>", false},
	{"unparsable", "s3://b:" + secret + "%zz@h", "<unparsable URL>", false},
}

func TestRedact(t *testing.T) {
	for _, tc := range redactCases {
		t.Run(tc.name, func(t *testing.T) {
			got := Redact(tc.in)
			if got != tc.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			if strings.Contains(got, secret) {
				t.Errorf("Redact(%q) = %q shows the secret", tc.in, got)
			}
			if Redact(got) != got {
				t.Errorf("Redact is not idempotent on %q: %q", got, Redact(got))
			}
		})
	}
}

// TestOpenRefusesCredentials: Open refuses every URL that carries credentials
// with ErrBadURL, one line, the advice for its scheme and no secret; the other
// URLs with a secret fail too (unknown parameter, missing folder), without it.
func TestOpenRefusesCredentials(t *testing.T) {
	ctx := context.Background()
	advice := map[string]string{"s3": "AWS chain", "gs": "application default credentials", "azblob": "AZURE_STORAGE_KEY", "file": "takes none", "mem": "takes none"}
	for _, tc := range redactCases {
		if !strings.Contains(tc.in, secret) || strings.HasPrefix(tc.in, "u:") {
			continue // nothing to hide, or a local folder's name
		}
		t.Run(tc.name, func(t *testing.T) {
			b, err := Open(ctx, tc.in)
			if err == nil {
				b.Close()
				t.Fatalf("Open(%q) succeeded", tc.in)
			}
			msg := err.Error()
			if strings.Contains(msg, secret) || strings.Contains(msg, url.QueryEscape(secret)) || strings.Contains(msg, "\n") {
				t.Errorf("Open(%q): want one line without the secret, got %q", tc.in, msg)
			}
			scheme, _, _ := strings.Cut(tc.in, "://")
			if tc.creds && (!errors.Is(err, ErrBadURL) || !strings.Contains(msg, "carries credentials") || !strings.Contains(msg, advice[scheme])) {
				t.Errorf("Open(%q) = %q, want it refused as carrying credentials with %q", tc.in, msg, advice[scheme])
			}
			if !tc.creds && strings.Contains(msg, "carries credentials") {
				t.Errorf("Open(%q) = %q: refused as carrying credentials", tc.in, msg)
			}
		})
	}
}

// TestScrub: an error that repeats a hidden value anywhere, raw or decoded,
// comes out without it and still unwraps to its cause.
func TestScrub(t *testing.T) {
	cause := errors.New("boom")
	raw := "s3://b?endpoint=" + url.QueryEscape("http://u:"+secret+"@h") + "&color=" + url.QueryEscape(secret+"/x")
	err := scrub(fmt.Errorf("open %s: value %q and %s rejected\nsecond line: %w", raw, secret, secret+"/x", cause), raw)
	if msg := err.Error(); strings.Contains(msg, secret) || strings.Contains(msg, "\n") {
		t.Errorf("scrub left %q", msg)
	}
	if !errors.Is(err, cause) {
		t.Errorf("scrub lost the cause: %v", err)
	}
}
