package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
)

// newSASLCluster gives the test a cluster with a SASL listener that knows
// user with password for SCRAM-SHA-256 and -512, and returns the Config that
// reaches that listener with mechanism (scram-sha-256 or scram-sha-512). On
// kfake every listener of the cluster takes SASL (for mechanism only); on
// Apache Kafka the leased broker's SASL_PLAINTEXT listener does, and the user
// is added with AlterUserScramCredentials.
func newSASLCluster(t *testing.T, mechanism, user, password string) kafka.Config {
	t.Helper()
	sec := kafka.Security{SASLMechanism: mechanism, SASLUsername: user, SASLPassword: password}
	if !brokers.real() {
		c, err := kafkatest.Start(1, kfake.EnableSASL(), kfake.Superuser(strings.ToUpper(mechanism), user, password))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return kafka.Config{Brokers: c.ListenAddrs(), ClientID: "kferry-test", Security: sec}
	}
	rc := brokers.lease(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, adm, err := rc.admin()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// One request per mechanism: Kafka refuses a user named twice in one
	// (DUPLICATE_RESOURCE).
	for _, m := range []kadm.ScramMechanism{kadm.ScramSha256, kadm.ScramSha512} {
		up := kadm.UpsertSCRAM{User: user, Mechanism: m, Iterations: 4096, Password: password}
		altered, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{up})
		if err == nil {
			err = altered.Error()
		}
		if err != nil {
			t.Fatalf("add SCRAM user %s (%s): %v", user, m, err)
		}
	}
	cfg := kafka.Config{Brokers: rc.rk.SASLAddrs(), ClientID: "kferry-test", Security: sec}
	// The broker learns of the credentials from the metadata log, a moment
	// after the answer.
	err = poll(ctx, "a SCRAM login of "+user, func() (bool, error) {
		kc, err := kafka.Dial(ctx, cfg)
		if err != nil {
			return false, err
		}
		kc.Close()
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newMTLSCluster gives the test a cluster with a listener that requires a
// client certificate, and returns the Config that reaches it with the
// cluster's CA and a client certificate it accepts.
func newMTLSCluster(t *testing.T) kafka.Config {
	t.Helper()
	if !brokers.real() {
		files := kafkatest.NewTLSFiles(t, true)
		c, err := kafkatest.Start(1, kfake.TLS(files.Server))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return kafka.Config{Brokers: c.ListenAddrs(), ClientID: "kferry-test",
			Security: kafka.Security{TLSCA: files.CA, TLSCert: files.ClientCert, TLSKey: files.ClientKey}}
	}
	rc := brokers.lease(t)
	files := rc.rk.TLS()
	return kafka.Config{Brokers: rc.rk.TLSAddrs(), ClientID: "kferry-test",
		Security: kafka.Security{TLSCA: files.CA, TLSCert: files.ClientCert, TLSKey: files.ClientKey}}
}

// TestSecureListeners: export from a SCRAM-SHA-512 listener and import into a
// mutual-TLS listener (kferry's --sasl-* and --tls-* flags) carry every
// record; a wrong password, and a TLS client without a certificate, fail with
// one line that says what to check, exit 1, and write nothing.
func TestSecureListeners(t *testing.T) {
	t.Parallel()
	const password = "Scram-Pa55-e2e"
	sasl := newSASLCluster(t, "scram-sha-512", "ferry", password)
	mtls := newMTLSCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc, err := kafka.Dial(ctx, sasl)
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	if _, err := kc.CreateTopic(ctx, "secured", 3, -1); err != nil {
		t.Fatal(err)
	}
	w, err := kafka.NewWriter(ctx, sasl, kafka.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		rec := record.Record{Topic: "secured", Partition: int32(i % 3), Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, `{"i":%d}`, i),
			Headers: []record.Header{{Key: "h", Value: []byte("v")}}}
		if err := w.Produce(ctx, &rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	w.Close()
	want := readTopics(t, sasl, []string{"secured"})["secured"]

	url, dir := fileURL(t)
	saslFlags := []string{"--brokers", strings.Join(sasl.Brokers, ","), "--sasl-mechanism", "scram-sha-512", "--sasl-username", "ferry"}
	tlsFlags := []string{"--brokers", strings.Join(mtls.Brokers, ","), "--tls-ca", mtls.Security.TLSCA}
	withPassword := runOpts{env: []string{"KFERRY_SASL_PASSWORD=" + password}}

	r := kferry(t, runOpts{env: []string{"KFERRY_SASL_PASSWORD=not-" + password}}, append([]string{"export", "--topics", "secured", "--to", url, "--timeout", "5s"}, saslFlags...)...)
	wantError(t, r, 1, "ferry")
	if n := countFiles(t, dir); n != 0 {
		t.Errorf("the refused export wrote %d files", n)
	}
	r = kferry(t, withPassword, append([]string{"export", "--topics", "secured", "--to", url, "--store-keys", "--store-headers"}, saslFlags...)...)
	mustSucceed(t, r)

	r = kferry(t, runOpts{}, append([]string{"import", "--from", url, "--timeout", "5s"}, tlsFlags...)...)
	wantError(t, r, 1, "--tls-cert")
	r = kferry(t, runOpts{}, append([]string{"import", "--from", url, "--tls-cert", mtls.Security.TLSCert, "--tls-key", mtls.Security.TLSKey}, tlsFlags...)...)
	mustSucceed(t, r)
	got := readTopics(t, mtls, []string{"secured"})["secured"]
	t.Log(sameTopic(t, "secured", want, got, false)) // JSON objects keep no timestamps
}
