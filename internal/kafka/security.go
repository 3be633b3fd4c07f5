package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	saslaws "github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// ErrSecurityConfig means the TLS or SASL settings are incomplete or unreadable.
var ErrSecurityConfig = errors.New("bad Kafka security settings")

// Security says how to authenticate to a cluster and encrypt the connection.
// Secret fields never appear in errors or logs.
type Security struct {
	TLS                   bool
	TLSCA                 string // PEM file of CAs; empty: the system roots
	TLSCert, TLSKey       string // PEM files for mutual TLS
	TLSServerName         string // overrides the name checked in the broker's certificate
	TLSInsecureSkipVerify bool

	// SASLMechanism is plain, scram-sha-256, scram-sha-512, oauthbearer or
	// aws-msk-iam (empty: no SASL, and then no credential may be set).
	SASLMechanism string
	SASLUsername  string
	SASLPassword  string
	// OAuthToken or OAuthTokenFile (read at every authentication, so a sidecar
	// can rotate it) for oauthbearer.
	OAuthToken     string
	OAuthTokenFile string
}

// Secrets returns the secret values of s, for redaction tests and log scrubbing.
func (s Security) Secrets() []string {
	var out []string
	for _, v := range []string{s.SASLPassword, s.OAuthToken} {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Validate checks the settings without connecting: TLS files readable and
// matching, SASL mechanism known and complete.
func (s Security) Validate() error {
	_, err := s.options()
	return err
}

func (s Security) tlsOn() bool {
	return s.TLS || s.TLSCA != "" || s.TLSCert != "" || s.TLSInsecureSkipVerify || s.TLSServerName != ""
}

func (s Security) options() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if s.tlsOn() {
		cfg, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	mech, err := s.mechanism()
	if err != nil {
		return nil, err
	}
	if mech != nil {
		opts = append(opts, kgo.SASL(mech))
	}
	return opts, nil
}

func (s Security) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.TLSServerName, InsecureSkipVerify: s.TLSInsecureSkipVerify} //nolint:gosec // only on --tls-insecure-skip-verify, which warns
	if s.TLSCA != "" {
		pem, err := os.ReadFile(s.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("%w: --tls-ca: %v", ErrSecurityConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: --tls-ca %s holds no PEM certificate", ErrSecurityConfig, s.TLSCA)
		}
		cfg.RootCAs = pool
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		return nil, fmt.Errorf("%w: --tls-cert and --tls-key go together", ErrSecurityConfig)
	}
	if s.TLSCert != "" {
		pair, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("%w: --tls-cert/--tls-key: %v", ErrSecurityConfig, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

func (s Security) mechanism() (sasl.Mechanism, error) {
	needUser := func() error {
		if s.SASLUsername == "" || s.SASLPassword == "" {
			return fmt.Errorf("%w: --sasl-mechanism %s needs --sasl-username and --sasl-password (or KFERRY_SASL_PASSWORD)", ErrSecurityConfig, s.SASLMechanism)
		}
		return nil
	}
	switch strings.ToLower(s.SASLMechanism) {
	case "":
		if s.SASLUsername != "" || s.SASLPassword != "" || s.OAuthToken != "" || s.OAuthTokenFile != "" {
			// Connecting without SASL would ignore them silently.
			return nil, fmt.Errorf("%w: SASL credentials given without --sasl-mechanism: pass --sasl-mechanism plain|scram-sha-256|scram-sha-512 (or oauthbearer for a token)", ErrSecurityConfig)
		}
		return nil, nil
	case "plain":
		if err := needUser(); err != nil {
			return nil, err
		}
		return plain.Auth{User: s.SASLUsername, Pass: s.SASLPassword}.AsMechanism(), nil
	case "scram-sha-256":
		if err := needUser(); err != nil {
			return nil, err
		}
		return scram.Auth{User: s.SASLUsername, Pass: s.SASLPassword}.AsSha256Mechanism(), nil
	case "scram-sha-512":
		if err := needUser(); err != nil {
			return nil, err
		}
		return scram.Auth{User: s.SASLUsername, Pass: s.SASLPassword}.AsSha512Mechanism(), nil
	case "oauthbearer":
		if s.OAuthToken == "" && s.OAuthTokenFile == "" {
			return nil, fmt.Errorf("%w: --sasl-mechanism oauthbearer needs --oauth-token or --oauth-token-file", ErrSecurityConfig)
		}
		return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			tok := s.OAuthToken
			if s.OAuthTokenFile != "" {
				b, err := os.ReadFile(s.OAuthTokenFile)
				if err != nil {
					return oauth.Auth{}, fmt.Errorf("oauth token file: %w", err)
				}
				tok = strings.TrimSpace(string(b))
			}
			return oauth.Auth{Token: tok}, nil
		}), nil
	case "aws-msk-iam", "aws_msk_iam":
		return saslaws.ManagedStreamingIAM(mskCredentials), nil
	}
	return nil, fmt.Errorf("%w: --sasl-mechanism %q: use plain, scram-sha-256, scram-sha-512, oauthbearer or aws-msk-iam", ErrSecurityConfig, s.SASLMechanism)
}

// mskCredentials takes credentials from the standard AWS chain (environment,
// profile, SSO, instance or pod role) at every authentication, so rotated role
// credentials are picked up.
func mskCredentials(ctx context.Context) (saslaws.Auth, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return saslaws.Auth{}, fmt.Errorf("aws credentials: %w", err)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return saslaws.Auth{}, fmt.Errorf("aws credentials: %w", err)
	}
	return saslaws.Auth{AccessKey: creds.AccessKeyID, SecretKey: creds.SecretAccessKey, SessionToken: creds.SessionToken, UserAgent: "kferry"}, nil
}
