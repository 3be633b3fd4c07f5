package realkafka_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kferry/kferry/test/realkafka"
)

// client returns a franz-go client closed at cleanup.
func client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a topic with the cluster's default replication factor
// and waits until every node knows it.
func createTopic(t *testing.T, ctx context.Context, c *realkafka.Cluster, topic string, partitions int32) {
	t.Helper()
	adm := kadm.NewClient(client(t, kgo.SeedBrokers(c.Addrs()...)))
	resp, err := adm.CreateTopic(ctx, partitions, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if err := c.WaitTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
}

// consume reads topic from the start until stop returns true for a record
// and returns the values read, in order.
func consume(t *testing.T, ctx context.Context, addrs []string, topic string, level kgo.IsolationLevel, stop func(*kgo.Record) bool) []string {
	t.Helper()
	cl := client(t, kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(level))
	var got []string
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume %s: %v after %q", topic, err, got)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("consume %s: %v", topic, errs[0].Err)
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			got = append(got, string(r.Value))
			done = done || stop(r)
		})
		if done {
			return got
		}
	}
}

func valueIs(v string) func(*kgo.Record) bool {
	return func(r *kgo.Record) bool { return string(r.Value) == v }
}

func TestProduceConsume(t *testing.T) {
	for _, v := range selfTestVersions() {
		t.Run(v, func(t *testing.T) {
			c := singleNode(t, v)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if c.Version() != v {
				t.Fatalf("cluster runs %s, want %s", c.Version(), v)
			}
			createTopic(t, ctx, c, "plain", 3)
			cl := client(t, kgo.SeedBrokers(c.Addrs()...))
			rec := &kgo.Record{Topic: "plain", Partition: 0, Key: []byte("k"), Value: []byte("hello " + v),
				Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}}
			if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
			got := consume(t, ctx, c.Addrs(), "plain", kgo.ReadUncommitted(), valueIs("hello "+v))
			if !slices.Equal(got, []string{"hello " + v}) {
				t.Errorf("consumed %q, want the one record produced", got)
			}
		})
	}
}

// TestTransactions: a committed, an aborted and a committed transaction;
// read_committed sees the two committed records only, read_uncommitted all.
func TestTransactions(t *testing.T) {
	for _, v := range selfTestVersions() {
		t.Run(v, func(t *testing.T) {
			c := singleNode(t, v)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			createTopic(t, ctx, c, "txn", 1)
			p := client(t, kgo.SeedBrokers(c.Addrs()...), kgo.TransactionalID("realkafka-selftest"), kgo.DefaultProduceTopic("txn"))
			for _, step := range []struct {
				value string
				end   kgo.TransactionEndTry
			}{{"first", kgo.TryCommit}, {"aborted", kgo.TryAbort}, {"last", kgo.TryCommit}} {
				if err := p.BeginTransaction(); err != nil {
					t.Fatal(err)
				}
				if err := p.ProduceSync(ctx, kgo.StringRecord(step.value)).FirstErr(); err != nil {
					t.Fatalf("produce %s: %v", step.value, err)
				}
				if err := p.EndTransaction(ctx, step.end); err != nil {
					t.Fatalf("end transaction after %s: %v", step.value, err)
				}
			}
			if got := consume(t, ctx, c.Addrs(), "txn", kgo.ReadCommitted(), valueIs("last")); !slices.Equal(got, []string{"first", "last"}) {
				t.Errorf("read_committed read %q, want [first last]", got)
			}
			if got := consume(t, ctx, c.Addrs(), "txn", kgo.ReadUncommitted(), valueIs("last")); !slices.Equal(got, []string{"first", "aborted", "last"}) {
				t.Errorf("read_uncommitted read %q, want [first aborted last]", got)
			}
		})
	}
}

// TestSCRAM: both mechanisms log in on the SASL listener; a wrong password
// is refused.
func TestSCRAM(t *testing.T) {
	for _, v := range selfTestVersions() {
		t.Run(v, func(t *testing.T) {
			c := singleNode(t, v)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if len(c.SASLAddrs()) != 1 {
				t.Fatalf("SASL listeners %v, want one", c.SASLAddrs())
			}
			mechs := map[string]func(scram.Auth) sasl.Mechanism{
				"SCRAM-SHA-256": func(a scram.Auth) sasl.Mechanism { return a.AsSha256Mechanism() },
				"SCRAM-SHA-512": func(a scram.Auth) sasl.Mechanism { return a.AsSha512Mechanism() },
			}
			for name, mech := range mechs {
				for _, u := range c.Users() {
					cl := client(t, kgo.SeedBrokers(c.SASLAddrs()...), kgo.SASL(mech(scram.Auth{User: u.Name, Pass: u.Password})))
					if err := cl.Ping(ctx); err != nil {
						t.Errorf("%s as %s: %v", name, u.Name, err)
					}
				}
				bad := client(t, kgo.SeedBrokers(c.SASLAddrs()...), kgo.SASL(mech(scram.Auth{User: "alice", Pass: "wrong"})))
				if err := bad.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
					t.Errorf("%s with a wrong password: %v, want SASL_AUTHENTICATION_FAILED", name, err)
				}
			}
		})
	}
}

// TestMutualTLS: a client with the CA's client certificate gets in on the
// SSL listener; one without a certificate does not.
func TestMutualTLS(t *testing.T) {
	for _, v := range selfTestVersions() {
		t.Run(v, func(t *testing.T) {
			c := singleNode(t, v)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if c.TLS() == nil || len(c.TLSAddrs()) != 1 {
				t.Fatalf("TLS %v at %v, want a PKI and one listener", c.TLS(), c.TLSAddrs())
			}
			cfg, err := c.TLS().ClientConfig()
			if err != nil {
				t.Fatal(err)
			}
			createTopic(t, ctx, c, "tls", 1)
			cl := client(t, kgo.SeedBrokers(c.TLSAddrs()...), kgo.DialTLSConfig(cfg))
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "tls", Value: []byte("over mTLS")}).FirstErr(); err != nil {
				t.Errorf("produce over mutual TLS: %v", err)
			}
			noCert := cfg.Clone()
			noCert.Certificates = nil
			short, cancelShort := context.WithTimeout(ctx, 10*time.Second)
			defer cancelShort()
			anon := client(t, kgo.SeedBrokers(c.TLSAddrs()...), kgo.DialTLSConfig(noCert), kgo.RequestRetries(0))
			if err := anon.Ping(short); err == nil {
				t.Error("a client without a certificate got in; want the broker to require one")
			}
		})
	}
}
