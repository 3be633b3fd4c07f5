// Package schemareg is kferry's Schema Registry client, on franz-go's pkg/sr
// (it sits under internal/kafka, the one place franz-go may be imported): it
// reads schemas by id for the avro format's export and registers them on
// import, caching both, with a timeout on every request and retries with
// backoff on faults that may pass.
package schemareg

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/pkg/format/avrofmt"
	"github.com/kferry/kferry/pkg/layout"
)

// ErrConfig means the registry settings are incomplete or unreadable.
var ErrConfig = errors.New("schema registry settings")

// ErrUnknownSchema means the registry does not know a schema id (the avro
// format's ErrUnknownID, which it tells from other registry errors).
var ErrUnknownSchema = avrofmt.ErrUnknownID

// Config is how to reach a registry.
type Config struct {
	URL string
	// User and Password (basic auth) or Token (bearer); a password in the URL
	// is taken out of it and used as basic auth, so it never shows in errors.
	User, Password, Token string
	TLSCA                 string // PEM file of CAs; empty: the system roots
	TLSCert, TLSKey       string // PEM files for mutual TLS
	TLSInsecureSkipVerify bool
	// Timeout bounds each request (default 10s); Retry bounds the retries of
	// one call (default three timeouts, at most 30s: a shorter timeout asks
	// for a quicker answer, also when the registry is down).
	Timeout, Retry time.Duration
}

// Client is a registry client, safe for concurrent use. It implements
// avrofmt.Registry.
type Client struct {
	cl    *sr.Client
	url   string // without user info, for messages
	retry time.Duration
	// Subject names the subject of a topic's keys or values
	// (TopicNameStrategy: <topic>-key, <topic>-value); import sets one that
	// applies its renames first.
	Subject func(topic string, view layout.View) string

	mu         sync.Mutex
	byID       map[int]avrofmt.Schema
	byVersion  map[string]versioned // subject and version -> schema and id
	subjects   map[int][]string     // id -> subjects
	registered map[[2]string][2]int // subject and schema -> id and version
}

var _ avrofmt.Registry = (*Client)(nil)

// TopicNameStrategy is Confluent's default subject: <topic>-key or <topic>-value.
func TopicNameStrategy(topic string, view layout.View) string {
	if view == layout.ViewKeys {
		return topic + "-key"
	}
	return topic + "-value"
}

// New checks cfg and returns a client; it does not connect.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: --schema-registry %q is not an http(s) URL", ErrConfig, redact(cfg.URL))
	}
	if u.User != nil {
		if cfg.User == "" {
			cfg.User = u.User.Username()
			cfg.Password, _ = u.User.Password()
		}
		u.User = nil
	}
	if cfg.Token != "" && cfg.User != "" {
		return nil, fmt.Errorf("%w: give --schema-registry-user/-password or --schema-registry-token, not both", ErrConfig)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Retry <= 0 {
		cfg.Retry = min(30*time.Second, 3*cfg.Timeout)
	}
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second}
	if u.Scheme == "https" || cfg.TLSCA != "" || cfg.TLSCert != "" {
		if tr.TLSClientConfig, err = tlsConfig(cfg); err != nil {
			return nil, err
		}
	}
	opts := []sr.ClientOpt{sr.URLs(u.String()), sr.HTTPClient(&http.Client{Timeout: cfg.Timeout, Transport: tr}), sr.UserAgent("kferry")}
	if cfg.User != "" {
		opts = append(opts, sr.BasicAuth(cfg.User, cfg.Password))
	}
	if cfg.Token != "" {
		opts = append(opts, sr.BearerToken(cfg.Token))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return &Client{cl: cl, url: u.String(), retry: cfg.Retry, Subject: TopicNameStrategy, byID: map[int]avrofmt.Schema{}, byVersion: map[string]versioned{}, subjects: map[int][]string{}, registered: map[[2]string][2]int{}}, nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.TLSInsecureSkipVerify} //nolint:gosec // only on --schema-registry-tls-insecure-skip-verify
	if cfg.TLSCA != "" {
		pem, err := os.ReadFile(cfg.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("%w: --schema-registry-tls-ca: %w", ErrConfig, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: --schema-registry-tls-ca %s holds no PEM certificate", ErrConfig, cfg.TLSCA)
		}
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, fmt.Errorf("%w: --schema-registry-tls-cert and --schema-registry-tls-key go together", ErrConfig)
	}
	if cfg.TLSCert != "" {
		pair, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("%w: --schema-registry-tls-cert/-key: %w", ErrConfig, err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// SchemaByID returns the schema of id, from the cache after the first call.
func (c *Client) SchemaByID(ctx context.Context, id int) (avrofmt.Schema, error) {
	c.mu.Lock()
	s, ok := c.byID[id]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	var got sr.Schema
	err := c.do(ctx, func(ctx context.Context) error {
		var err error
		got, err = c.cl.SchemaByID(ctx, id)
		return err
	})
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.ErrorCode == 40403 {
			return avrofmt.Schema{}, fmt.Errorf("%w (%s)", ErrUnknownSchema, c.url)
		}
		return avrofmt.Schema{}, fmt.Errorf("schema registry %s: %w", c.url, err)
	}
	s = avrofmt.Schema{Text: got.Schema, Type: got.Type.String(), References: fromSR(got.References)}
	c.mu.Lock()
	c.byID[id] = s
	c.mu.Unlock()
	return s, nil
}

func fromSR(refs []sr.SchemaReference) []avrofmt.Reference {
	var out []avrofmt.Reference
	for _, r := range refs {
		out = append(out, avrofmt.Reference{Name: r.Name, Subject: r.Subject, Version: r.Version})
	}
	return out
}

func toSR(refs []avrofmt.Reference) []sr.SchemaReference {
	var out []sr.SchemaReference
	for _, r := range refs {
		out = append(out, sr.SchemaReference{Name: r.Name, Subject: r.Subject, Version: r.Version})
	}
	return out
}

// SchemaBySubjectVersion returns version of subject (a schema reference's
// target) and its id, from the cache after the first call.
func (c *Client) SchemaBySubjectVersion(ctx context.Context, subject string, version int) (avrofmt.Schema, int, error) {
	k := subject + "\x00" + strconv.Itoa(version)
	c.mu.Lock()
	got, ok := c.byVersion[k]
	c.mu.Unlock()
	if ok {
		return got.schema, got.id, nil
	}
	var ss sr.SubjectSchema
	err := c.do(ctx, func(ctx context.Context) error {
		var err error
		// A referenced subject soft-deleted since is still what the
		// records' schema names (and SchemaByID still serves their id).
		ss, err = c.cl.SchemaByVersion(sr.WithParams(ctx, sr.ShowDeleted), subject, version)
		return err
	})
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && (re.ErrorCode == 40401 || re.ErrorCode == 40402) {
			return avrofmt.Schema{}, 0, fmt.Errorf("%w: version %d of subject %s (%s)", ErrUnknownSchema, version, subject, c.url)
		}
		return avrofmt.Schema{}, 0, fmt.Errorf("schema registry %s: subject %s version %d: %w", c.url, subject, version, err)
	}
	s := avrofmt.Schema{Text: ss.Schema.Schema, Type: ss.Type.String(), References: fromSR(ss.References)}
	c.mu.Lock()
	c.byVersion[k] = versioned{s, ss.ID}
	c.mu.Unlock()
	return s, ss.ID, nil
}

// SchemaByReference returns the schema a reference names and its id: by
// subject and version (the registry knows no other way).
func (c *Client) SchemaByReference(ctx context.Context, ref avrofmt.Reference) (avrofmt.Schema, int, error) {
	return c.SchemaBySubjectVersion(ctx, ref.Subject, ref.Version)
}

// SubjectsByID returns the subjects under which id is registered (deleted
// ones included), from the cache after the first call.
func (c *Client) SubjectsByID(ctx context.Context, id int) ([]string, error) {
	c.mu.Lock()
	subjects, ok := c.subjects[id]
	c.mu.Unlock()
	if ok {
		return subjects, nil
	}
	err := c.do(ctx, func(ctx context.Context) error {
		var err error
		subjects, err = c.cl.SubjectsByID(sr.WithParams(ctx, sr.ShowDeleted), id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("schema registry %s: subjects of schema id %d: %w", c.url, id, err)
	}
	c.mu.Lock()
	c.subjects[id] = subjects
	c.mu.Unlock()
	return subjects, nil
}

type versioned struct {
	schema avrofmt.Schema
	id     int
}

// Register registers an Avro schema under the subject of topic's view and
// returns its id; an identical schema already there keeps its id.
func (c *Client) Register(ctx context.Context, topic string, view layout.View, schema string) (int, error) {
	return c.RegisterSchema(ctx, c.Subject(topic, view), avrofmt.Schema{Text: schema})
}

// RegisterSchema registers a schema (of any type) under subject and returns
// its id, from the cache after the first call.
func (c *Client) RegisterSchema(ctx context.Context, subject string, schema avrofmt.Schema) (int, error) {
	id, _, err := c.RegisterSchemaVersion(ctx, subject, schema)
	return id, err
}

// RegisterSchemaVersion is RegisterSchema that also returns the version the
// schema has under subject (what a reference to it names).
func (c *Client) RegisterSchemaVersion(ctx context.Context, subject string, schema avrofmt.Schema) (int, int, error) {
	var typ sr.SchemaType
	if schema.Type != "" {
		if err := typ.UnmarshalText([]byte(schema.Type)); err != nil {
			return 0, 0, fmt.Errorf("schema type %q: %w", schema.Type, err)
		}
	}
	refs, err := json.Marshal(schema.References)
	if err != nil {
		return 0, 0, err
	}
	k := [2]string{subject, schema.Type + "\x00" + schema.Text + "\x00" + string(refs)}
	c.mu.Lock()
	got, ok := c.registered[k]
	c.mu.Unlock()
	if ok {
		return got[0], got[1], nil
	}
	var ss sr.SubjectSchema
	err = c.do(ctx, func(ctx context.Context) error {
		var err error
		ss, err = c.cl.CreateSchema(ctx, subject, sr.Schema{Schema: schema.Text, Type: typ, References: toSR(schema.References)})
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("register the schema under subject %s in %s: %w", subject, c.url, err)
	}
	c.mu.Lock()
	c.registered[k] = [2]int{ss.ID, ss.Version}
	c.mu.Unlock()
	return ss.ID, ss.Version, nil
}

// do runs op, retrying with backoff while it fails in a way that may pass
// (no answer, 408, 429, 5xx) and c.retry has not passed.
func (c *Client) do(ctx context.Context, op func(context.Context) error) error {
	return kafka.RetryWhile(ctx, c.retry, retriable, func() error { return op(ctx) })
}

func retriable(err error) bool {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode == http.StatusRequestTimeout || re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500
	}
	// A request that timed out or a connection refused or dropped may pass;
	// a TLS or URL mistake (also a *url.Error, a net.Error) does not.
	var ne net.Error
	var op *net.OpError
	return (errors.As(err, &ne) && ne.Timeout()) || errors.As(err, &op) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
