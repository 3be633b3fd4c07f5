package kafka_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
)

func secureCluster(t *testing.T, opts ...kfake.Opt) *kafkatest.Cluster {
	t.Helper()
	c, err := kafkatest.Start(1, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestSecurity(t *testing.T) {
	const pass = "s3cret-Pa55"
	tlsFiles := kafkatest.NewTLSFiles(t, false)
	mtlsFiles := kafkatest.NewTLSFiles(t, true)
	otherFiles := kafkatest.NewTLSFiles(t, true) // a client certificate mtlsFiles' CA did not sign
	sasl := func(method string) []kfake.Opt {
		return []kfake.Opt{kfake.EnableSASL(), kfake.Superuser(method, "kferry", pass)}
	}
	tests := []struct {
		name    string
		cluster []kfake.Opt
		sec     kafka.Security
		wantErr error  // nil: Dial must succeed
		msg     string // fragment of the error
	}{
		{"tls with ca", []kfake.Opt{kfake.TLS(tlsFiles.Server)}, kafka.Security{TLSCA: tlsFiles.CA}, nil, ""},
		{"tls untrusted", []kfake.Opt{kfake.TLS(tlsFiles.Server)}, kafka.Security{TLSCA: tlsFiles.OtherCA}, kafka.ErrAuth, "not trusted"},
		{"tls system roots do not know the test CA", []kfake.Opt{kfake.TLS(tlsFiles.Server)}, kafka.Security{TLS: true}, kafka.ErrAuth, "--tls-ca"},
		{"tls insecure skip verify", []kfake.Opt{kfake.TLS(tlsFiles.Server)}, kafka.Security{TLS: true, TLSInsecureSkipVerify: true}, nil, ""},
		{"mtls", []kfake.Opt{kfake.TLS(mtlsFiles.Server)}, kafka.Security{TLSCA: mtlsFiles.CA, TLSCert: mtlsFiles.ClientCert, TLSKey: mtlsFiles.ClientKey}, nil, ""},
		{"mtls without client cert", []kfake.Opt{kfake.TLS(mtlsFiles.Server)}, kafka.Security{TLSCA: mtlsFiles.CA}, kafka.ErrAuth, "--tls-cert"},
		{"mtls with a client cert of another CA", []kfake.Opt{kfake.TLS(mtlsFiles.Server)}, kafka.Security{TLSCA: mtlsFiles.CA, TLSCert: otherFiles.ClientCert, TLSKey: otherFiles.ClientKey}, kafka.ErrAuth, "refused the client certificate"},
		{"plain", sasl("PLAIN"), kafka.Security{SASLMechanism: "plain", SASLUsername: "kferry", SASLPassword: pass}, nil, ""},
		{"plain wrong password", sasl("PLAIN"), kafka.Security{SASLMechanism: "plain", SASLUsername: "kferry", SASLPassword: "wrong"}, kafka.ErrAuth, `user "kferry"`},
		{"scram-sha-256", sasl("SCRAM-SHA-256"), kafka.Security{SASLMechanism: "scram-sha-256", SASLUsername: "kferry", SASLPassword: pass}, nil, ""},
		{"scram-sha-512", sasl("SCRAM-SHA-512"), kafka.Security{SASLMechanism: "scram-sha-512", SASLUsername: "kferry", SASLPassword: pass}, nil, ""},
		{"scram wrong password", sasl("SCRAM-SHA-512"), kafka.Security{SASLMechanism: "scram-sha-512", SASLUsername: "kferry", SASLPassword: "wrong"}, kafka.ErrAuth, "password"},
		{"sasl over tls", append(sasl("SCRAM-SHA-256"), kfake.TLS(tlsFiles.Server)), kafka.Security{TLSCA: tlsFiles.CA, SASLMechanism: "scram-sha-256", SASLUsername: "kferry", SASLPassword: pass}, nil, ""},
		{"missing password", sasl("PLAIN"), kafka.Security{SASLMechanism: "plain", SASLUsername: "kferry"}, kafka.ErrSecurityConfig, "--sasl-password"},
		{"unknown mechanism", nil, kafka.Security{SASLMechanism: "gssapi"}, kafka.ErrSecurityConfig, "gssapi"},
		// A cluster without SASL would accept the connection and the credentials would be ignored.
		{"credentials without mechanism", nil, kafka.Security{SASLUsername: "kferry", SASLPassword: pass}, kafka.ErrSecurityConfig, "--sasl-mechanism plain|scram-sha-256|scram-sha-512"},
		{"token without mechanism", nil, kafka.Security{OAuthToken: pass}, kafka.ErrSecurityConfig, "--sasl-mechanism"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := secureCluster(t, tt.cluster...)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cfg := kafka.Config{Brokers: c.ListenAddrs(), Timeout: 5 * time.Second, Security: tt.sec}
			start := time.Now()
			kc, err := kafka.Dial(ctx, cfg)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				defer kc.Close()
				if _, err := kc.Topics(ctx); err != nil {
					t.Fatalf("list topics over the secured connection: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q lacks %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if strings.Contains(err.Error(), pass) {
				t.Errorf("error shows the password: %q", err)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("failing took %s, want ≤ 15s", d)
			}
		})
	}
}
