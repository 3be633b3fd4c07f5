package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrUnreachable means no seed broker answered within Config.Timeout.
var ErrUnreachable = errors.New("kafka unreachable")

// ErrUnknownTopic means a topic named on the command line does not exist.
var ErrUnknownTopic = errors.New("unknown topic")

// DefaultTimeout bounds connecting and each admin call unless Config says otherwise.
const DefaultTimeout = 10 * time.Second

// Config says how to reach one cluster.
type Config struct {
	Brokers  []string
	ClientID string
	// Timeout bounds the first contact and every admin request (DefaultTimeout if 0).
	Timeout time.Duration
	// Security holds TLS and SASL settings.
	Security Security
	// Limit, when not nil, caps the bytes per second that every reader and
	// writer made from this Config moves, together.
	Limit *RateLimit
}

func (c Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c Config) options() ([]kgo.Opt, error) {
	if len(c.Brokers) == 0 {
		return nil, fmt.Errorf("no brokers: pass --brokers host:port (or set KFERRY_BROKERS)")
	}
	id := c.ClientID
	if id == "" {
		id = "kferry"
	}
	sec, err := c.Security.options()
	if err != nil {
		return nil, err
	}
	return append([]kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(id),
		kgo.DialTimeout(min(c.timeout(), 10*time.Second)),
		kgo.RetryTimeout(c.timeout()),
		kgo.RetryBackoffFn(backoff),
	}, sec...), nil
}

// backoff is exponential from 100 ms to 2 s with jitter, so many workers retrying
// a leader change do not stampede the new leader.
func backoff(tries int) time.Duration {
	d := 100 * time.Millisecond << min(tries, 5)
	d = min(d, 2*time.Second)
	return d/2 + time.Duration(time.Now().UnixNano()%int64(d/2))
}

// Client is an admin-capable connection to one cluster, safe for concurrent use.
type Client struct {
	cfg Config
	cl  *kgo.Client
	adm *kadm.Client
}

// Dial connects to the cluster and checks that it answers within cfg.Timeout, so a
// wrong address fails fast with a clear error instead of retrying forever.
func Dial(ctx context.Context, cfg Config, extra ...kgo.Opt) (*Client, error) {
	opts, err := cfg.options()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	c := &Client{cfg: cfg, cl: cl, adm: kadm.NewClient(cl)}
	pctx, cancel := context.WithTimeout(ctx, cfg.timeout())
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		return nil, unreachable(ctx, cfg, err)
	}
	return c, nil
}

// ErrAuth means the cluster refused the credentials, or the TLS handshake failed.
var ErrAuth = errors.New("kafka authentication failed")

// unreachable builds the one-line error for a cluster that did not answer or
// refused us, with the concrete cause when there is one (refused connection,
// unknown host, wrong password, untrusted certificate).
func unreachable(ctx context.Context, cfg Config, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	brokers := strings.Join(cfg.Brokers, ",")
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.IllegalSaslState), errors.Is(err, kerr.UnsupportedSaslMechanism):
		return fmt.Errorf("%w: brokers %s refused SASL %s for user %q: %s; check --sasl-mechanism, --sasl-username and --sasl-password", ErrAuth, brokers, cfg.Security.SASLMechanism, cfg.Security.SASLUsername, kerrText(err))
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		return fmt.Errorf("%w: TLS to brokers %s: the broker's certificate is not trusted (%s); pass its CA with --tls-ca, or --tls-server-name if the name differs", ErrAuth, brokers, tlsReason(err))
	case errors.Is(err, ErrSecurityConfig):
		return err
	case closedEarly(err) && cfg.Security.SASLMechanism != "":
		return fmt.Errorf("%w: brokers %s closed the connection during SASL %s authentication of user %q; the user or password is probably wrong (check --sasl-username and --sasl-password)", ErrAuth, brokers, cfg.Security.SASLMechanism, cfg.Security.SASLUsername)
	case cfg.Security.tlsOn() && (closedEarly(err) || clientCertRefused(err)) && cfg.Security.TLSCert == "":
		return fmt.Errorf("%w: brokers %s closed the connection during the TLS handshake; if the listener requires a client certificate, pass --tls-cert and --tls-key", ErrAuth, brokers)
	case cfg.Security.tlsOn() && clientCertRefused(err):
		return fmt.Errorf("%w: brokers %s refused the client certificate %s (%w); check that the listener trusts the CA that signed it", ErrAuth, brokers, cfg.Security.TLSCert, err)
	}
	reason := err.Error()
	if errors.Is(err, context.DeadlineExceeded) {
		reason = fmt.Sprintf("no answer within %s", cfg.timeout())
		d := net.Dialer{Timeout: 2 * time.Second}
		if conn, derr := d.DialContext(ctx, "tcp", cfg.Brokers[0]); derr != nil {
			reason = derr.Error()
		} else {
			_ = conn.Close() // a probe: the dial answered the question
			if cfg.Security.TLS || cfg.Security.SASLMechanism != "" {
				reason += " (the port answers: check that TLS and SASL settings match the listener)"
			}
		}
	}
	return fmt.Errorf("%w: brokers %s: %s; check --brokers (or KFERRY_BROKERS), the network and the security settings, or raise --timeout",
		ErrUnreachable, brokers, reason)
}

// closedEarly reports a connection the broker closed before answering, which is
// how brokers (and kfake) end a failed authentication.
func closedEarly(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// clientCertRefused reports the TLS alert a broker sends when it requires a
// client certificate and got none, or one it does not trust: "certificate
// required" (TLS 1.3 from Go servers such as kfake), "bad certificate" (Java
// brokers, also under TLS 1.3), "unknown certificate authority" or
// "certificate unknown".
func clientCertRefused(err error) bool {
	msg := err.Error()
	for _, alert := range []string{"certificate required", "bad certificate", "unknown certificate authority", "certificate unknown"} {
		if strings.Contains(msg, "remote error: tls: "+alert) {
			return true
		}
	}
	return false
}

// kerrText is the broker's own message for a Kafka error code.
func kerrText(err error) string {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Message
	}
	return err.Error()
}

func tlsReason(err error) string {
	if ua, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return ua.Error()
	}
	if he, ok := errors.AsType[x509.HostnameError](err); ok {
		return he.Error()
	}
	return err.Error()
}

// Close releases the client's connections.
func (c *Client) Close() { c.cl.Close() }

// Config returns the configuration the client was made from.
func (c *Client) Config() Config { return c.cfg }

// TopicInfo is what kferry needs to know of a topic.
type TopicInfo struct {
	Name              string
	Partitions        int
	ReplicationFactor int
	Internal          bool
	// ID is the topic id (hex): a topic deleted and recreated gets another.
	ID string
}

// TopicExists reports whether the cluster has topic, without the retries an
// unknown topic gets elsewhere.
func (c *Client) TopicExists(ctx context.Context, topic string) (bool, error) {
	td, err := c.topicDetails(ctx, topic)
	if err != nil {
		return false, fmt.Errorf("describe topic %s: %w", topic, err)
	}
	t, ok := td[topic]
	switch {
	case !ok || errors.Is(t.Err, kerr.UnknownTopicOrPartition):
		return false, nil
	case t.Err != nil:
		return false, fmt.Errorf("describe topic %s: %w", topic, t.Err)
	}
	return true, nil
}

// Topics lists every topic of the cluster.
func (c *Client) Topics(ctx context.Context) (map[string]TopicInfo, error) {
	td, err := c.topicDetails(ctx)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	out := make(map[string]TopicInfo, len(td))
	for name, t := range td {
		if t.Err != nil {
			return nil, fmt.Errorf("list topics: %s: %w", name, t.Err)
		}
		rf := 0
		for _, p := range t.Partitions {
			rf = max(rf, len(p.Replicas))
		}
		out[name] = TopicInfo{Name: name, Partitions: len(t.Partitions), ReplicationFactor: rf, Internal: t.IsInternal, ID: topicID(t.ID)}
	}
	return out, nil
}

// TopicIDs returns the ids of those of topics that exist now.
func (c *Client) TopicIDs(ctx context.Context, topics []string) (map[string]string, error) {
	if len(topics) == 0 {
		return map[string]string{}, nil
	}
	td, err := c.topicDetails(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("describe topics: %w", err)
	}
	out := map[string]string{}
	for name, t := range td {
		if t.Err == nil {
			out[name] = topicID(t.ID)
		}
	}
	return out, nil
}

// topicID is a topic id in hex, "" for none (a broker without topic ids).
func topicID(id [16]byte) string {
	if id == [16]byte{} {
		return ""
	}
	return fmt.Sprintf("%x", id[:])
}

// PartitionRange is one partition and the offsets [Start, End) to move.
type PartitionRange struct {
	Topic     string
	Partition int32
	Start     int64
	End       int64
}

// Ranges returns, for every partition of the topics, the log start offset and
// the last stable offset (read_committed end), captured now. One-shot exports stop
// there. No topics gives no ranges (kadm would list every topic's offsets).
func (c *Client) Ranges(ctx context.Context, topics []string) ([]PartitionRange, error) {
	if len(topics) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	var starts, ends kadm.ListedOffsets
	err := retriable(ctx, c.cfg.timeout(), func() (err error) {
		if starts, err = c.adm.ListStartOffsets(ctx, topics...); err == nil {
			err = starts.Error()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	err = retriable(ctx, c.cfg.timeout(), func() (err error) {
		if ends, err = c.adm.ListCommittedOffsets(ctx, topics...); err == nil {
			err = ends.Error()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	var out []PartitionRange
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(o.Topic, o.Partition)
		out = append(out, PartitionRange{Topic: o.Topic, Partition: o.Partition, Start: s.Offset, End: o.Offset})
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out, nil
}

// CreateTopic creates a topic; replicationFactor -1 takes the broker's default.
// It reports whether this call created it (false when it already existed).
func (c *Client) CreateTopic(ctx context.Context, name string, partitions int32, replicationFactor int16) (bool, error) {
	return c.CreateTopicWithConfigs(ctx, name, partitions, replicationFactor, nil)
}
