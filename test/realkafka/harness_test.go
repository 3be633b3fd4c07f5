package realkafka

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// These tests need no Java: they check what the harness writes and picks.

func TestProperties(t *testing.T) {
	v39, err := Lookup("3.9.2")
	if err != nil {
		t.Fatal(err)
	}
	v4, err := Lookup(DefaultKafka)
	if err != nil {
		t.Fatal(err)
	}
	tlsFiles := &TLSFiles{CA: "/pki/ca.pem", BrokerKeystore: "/pki/keystore.pem"}
	for _, tc := range []struct {
		name       string
		cfg        nodeConfig
		rf, minISR string
		want       map[string]string // "" means absent
	}{
		{"single 3.9", nodeConfig{version: v39, id: 1, nodes: 1, ports: nodePorts{broker: 10001, controller: 10002}}, "1", "1",
			map[string]string{"share.coordinator.state.topic.replication.factor": "", "listener.name.ssl.ssl.client.auth": ""}},
		{"single 4.x", nodeConfig{version: v4, id: 1, nodes: 1, ports: nodePorts{broker: 10001, controller: 10002}}, "1", "1",
			map[string]string{"share.coordinator.state.topic.replication.factor": "1"}},
		{"three 4.x", nodeConfig{version: v4, id: 2, nodes: 3, ports: nodePorts{broker: 10001, controller: 10002}}, "3", "2",
			map[string]string{"node.id": "2", "share.coordinator.state.topic.min.isr": "2"}},
		{"secured", nodeConfig{version: v4, id: 1, nodes: 1, scram: true, tls: tlsFiles,
			ports: nodePorts{broker: 10001, controller: 10002, sasl: 10003, ssl: 10004}}, "1", "1",
			map[string]string{
				"advertised.listeners":                                 "PLAINTEXT://127.0.0.1:10001,SASL_PLAINTEXT://127.0.0.1:10003,SSL://127.0.0.1:10004",
				"listener.name.sasl_plaintext.sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
				"listener.name.ssl.ssl.client.auth":                    "required",
				"listener.name.ssl.ssl.keystore.type":                  "PEM",
				"listener.name.ssl.ssl.keystore.location":              "/pki/keystore.pem",
			}},
		{"override", nodeConfig{version: v4, id: 1, nodes: 1, ports: nodePorts{broker: 10001, controller: 10002},
			overrides: map[string]string{"group.initial.rebalance.delay.ms": "3000"}}, "1", "1",
			map[string]string{"group.initial.rebalance.delay.ms": "3000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.cfg.properties()
			want := map[string]string{
				"default.replication.factor":               tc.rf,
				"offsets.topic.replication.factor":         tc.rf,
				"transaction.state.log.replication.factor": tc.rf,
				"min.insync.replicas":                      tc.minISR,
				"transaction.state.log.min.isr":            tc.minISR,
				"process.roles":                            "broker,controller",
				"controller.listener.names":                "CONTROLLER",
				"group.initial.rebalance.delay.ms":         "0",
			}
			for k, v := range tc.want {
				want[k] = v
			}
			for k, v := range want {
				got, ok := p[k]
				if v == "" && ok {
					t.Errorf("%s = %q, want it absent", k, got)
				} else if v != "" && got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			// Every listener on 127.0.0.1, never an empty host (all interfaces).
			for _, key := range []string{"listeners", "advertised.listeners"} {
				for _, l := range strings.Split(p[key], ",") {
					if !strings.Contains(l, "://127.0.0.1:") {
						t.Errorf("%s has %q, want 127.0.0.1 only", key, l)
					}
				}
			}
			if !strings.Contains(p["listeners"], "CONTROLLER://127.0.0.1:10002") || strings.Contains(p["advertised.listeners"], "CONTROLLER") {
				t.Errorf("listeners %q / advertised %q: want the controller listener bound, not advertised", p["listeners"], p["advertised.listeners"])
			}
			out := string(renderProperties(p))
			if !strings.Contains(out, "\nnode.id="+strconv.Itoa(int(tc.cfg.id))+"\n") {
				t.Errorf("rendered properties lack node.id:\n%s", out)
			}
		})
	}
}

func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		id, err := newUUID()
		if err != nil {
			t.Fatal(err)
		}
		b, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(b) != 16 || len(id) != 22 {
			t.Fatalf("%q: want 22 characters of URL-safe base64 for 16 bytes (%v)", id, err)
		}
		if id[0] == '-' || b[6]>>4 != 4 || b[8]>>6 != 2 {
			t.Fatalf("%q: starts with '-' or is not a version-4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("%q twice", id)
		}
		seen[id] = true
	}
}

func TestFreePorts(t *testing.T) {
	a, err := freePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	b, err := freePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range append(a, b...) {
		if seen[p] {
			t.Errorf("port %d handed out twice", p)
		}
		seen[p] = true
		if p >= ephemeralStart() || p < 1024 {
			t.Errorf("port %d: want one below the ephemeral range (%d)", p, ephemeralStart())
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(a[0]))
	if err != nil {
		t.Fatalf("port %d is not free: %v", a[0], err)
	}
	l.Close()
}

// TestTLSFiles: the PEM files make a working mutual-TLS pair for 127.0.0.1:
// a Go server with the broker's keystore accepts the client config and
// refuses a client without a certificate.
func TestTLSFiles(t *testing.T) {
	f, err := newTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ks, err := os.ReadFile(f.BrokerKeystore)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []*pem.Block
	for rest := ks; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	if len(blocks) != 3 || blocks[0].Type != "PRIVATE KEY" || blocks[1].Type != "CERTIFICATE" || blocks[2].Type != "CERTIFICATE" {
		t.Fatalf("keystore: want a PKCS#8 key, the broker's certificate and the CA's, got %d blocks", len(blocks))
	}
	key, err := x509.ParsePKCS8PrivateKey(blocks[0].Bytes)
	if err != nil {
		t.Fatalf("keystore key is not PKCS#8: %v", err)
	}
	serverCert := tls.Certificate{Certificate: [][]byte{blocks[1].Bytes, blocks[2].Bytes}, PrivateKey: key}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if tc, ok := c.(*tls.Conn); ok {
					_ = tc.Handshake() // the client side reports the outcome
				}
				_, _ = c.Write([]byte("x"))
			}()
		}
	}()
	cfg, err := f.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	dial := func(cfg *tls.Config) error {
		c, err := tls.Dial("tcp", l.Addr().String(), cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Read(make([]byte, 1)) // TLS 1.3 reports a refused client certificate here
		return err
	}
	if err := dial(cfg); err != nil {
		t.Errorf("client with certificate: %v", err)
	}
	anon := cfg.Clone()
	anon.Certificates = nil
	if err := dial(anon); err == nil {
		t.Error("client without certificate got in")
	}
}

func TestCheckLibs(t *testing.T) {
	v4, _ := Lookup(DefaultKafka)
	v39, _ := Lookup("3.9.2")
	libs := func(names ...string) string {
		dir := t.TempDir()
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	k4 := "kafka_2.13-" + v4.Kafka + ".jar"
	good4 := []string{k4, "log4j-api-" + v4.Log4j + ".jar", "log4j-core-" + v4.Log4j + ".jar", "log4j-slf4j-impl-" + v4.Log4j + ".jar"}
	for _, tc := range []struct {
		name string
		v    Version
		dir  string
		ok   bool
	}{
		{"4.x complete", v4, libs(good4...), true},
		{"4.x binding of another log4j", v4, libs(k4, "log4j-api-"+v4.Log4j+".jar", "log4j-core-"+v4.Log4j+".jar", "log4j-slf4j-impl-2.0.0.jar"), false},
		{"4.x two log4j-core", v4, libs(append(good4, "log4j-core-2.0.0.jar")...), false},
		{"4.x no binding", v4, libs(k4, "log4j-api-"+v4.Log4j+".jar", "log4j-core-"+v4.Log4j+".jar"), false},
		{"3.9 complete", v39, libs("kafka_2.13-3.9.2.jar", "slf4j-reload4j-1.7.36.jar", "reload4j-1.2.19.jar"), true},
		{"3.9 no binding", v39, libs("kafka_2.13-3.9.2.jar", "reload4j-1.2.19.jar"), false},
		{"no broker", v39, libs("slf4j-reload4j-1.7.36.jar", "reload4j-1.2.19.jar"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.checkLibs(tc.dir)
			if (err == nil) != tc.ok {
				t.Errorf("checkLibs: %v, want ok=%t", err, tc.ok)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	for _, v := range Versions {
		got, err := Lookup(v.Kafka)
		if err != nil || got != v {
			t.Errorf("Lookup(%s) = %+v, %v", v.Kafka, got, err)
		}
		if _, err := files.ReadFile("maven/" + v.Line + "/pom.xml"); err != nil {
			t.Errorf("%s: no pom for line %s: %v", v.Kafka, v.Line, err)
		}
	}
	if _, err := Lookup(DefaultKafka); err != nil {
		t.Errorf("DefaultKafka: %v", err)
	}
	if _, err := Lookup("2.8.2"); err == nil || !strings.Contains(err.Error(), "versions.go") {
		t.Errorf("Lookup(2.8.2): %v, want an error naming versions.go", err)
	}
}

func TestGate(t *testing.T) {
	empty := t.TempDir() // a PATH without java or mvn
	for _, tc := range []struct {
		name              string
		env               map[string]string
		wantSkip, wantErr bool
	}{
		{"off", map[string]string{"KFERRY_TEST_KAFKA": "", "CI": ""}, true, false},
		{"off under CI", map[string]string{"KFERRY_TEST_KAFKA": "", "CI": "true"}, false, true},
		{"bad value", map[string]string{"KFERRY_TEST_KAFKA": "yes"}, false, true},
		{"on without java", map[string]string{"KFERRY_TEST_KAFKA": "1", "PATH": empty, "JAVA_HOME": ""}, false, true},
		{"on with an unknown version", map[string]string{"KFERRY_TEST_KAFKA": "1", "KFERRY_TEST_KAFKA_VERSION": "0.8.2"}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			skip, err := Gate()
			if (skip != "") != tc.wantSkip || (err != nil) != tc.wantErr {
				t.Errorf("Gate() = %q, %v; want skip %t, error %t", skip, err, tc.wantSkip, tc.wantErr)
			}
		})
	}
}

// TestRemoveOrphans: a cluster folder whose owner process is gone is removed,
// one whose owner lives is kept.
func TestRemoveOrphans(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for name, pid := range map[string]int{"kferry-kafka-4.1.2-orphan": dead.Process.Pid, "kferry-kafka-4.1.2-live": os.Getpid()} {
		dir := filepath.Join(os.TempDir(), name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removeOrphans()
	if _, err := os.Stat(filepath.Join(os.TempDir(), "kferry-kafka-4.1.2-orphan")); !os.IsNotExist(err) {
		t.Errorf("the orphan's folder: %v, want it removed", err)
	}
	if _, err := os.Stat(filepath.Join(os.TempDir(), "kferry-kafka-4.1.2-live")); err != nil {
		t.Errorf("the live cluster's folder: %v, want it kept", err)
	}
}

func TestPortClash(t *testing.T) {
	clash := &startError{node: 2, msg: "exited during start", tail: "Caused by: java.net.BindException: Address already in use"}
	other := &startError{node: 1, msg: "not ready: context canceled", tail: "Kafka Server started"}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"one node", fmt.Errorf("start: %w", clash), true},
		{"among others", fmt.Errorf("start: %w", errors.Join(other, clash)), true},
		{"other failures", errors.Join(other, errors.New("dial refused")), false},
		{"nil", nil, false},
	} {
		if got := portClash(tc.err); got != tc.want {
			t.Errorf("%s: portClash = %t, want %t", tc.name, got, tc.want)
		}
	}
}
