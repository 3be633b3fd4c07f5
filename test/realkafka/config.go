package realkafka

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// nodeConfig is what one node's server.properties is made from.
type nodeConfig struct {
	version   Version
	id        int32
	nodes     int // cluster size
	ports     nodePorts
	voters    string // controller.quorum.voters
	dataDir   string
	scram     bool
	tls       *TLSFiles
	overrides map[string]string
}

// nodePorts are one node's listeners on 127.0.0.1; 0 means none.
type nodePorts struct {
	broker, controller, sasl, ssl int
}

// properties returns the node's broker config: KRaft combined mode with static
// voters (every version from 3.9 on accepts them, formatted without a flag),
// every listener on 127.0.0.1, replication sized to the cluster, and timings
// that suit tests. Overrides win.
func (c nodeConfig) properties() map[string]string {
	addr := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
	listeners := []string{"PLAINTEXT://" + addr(c.ports.broker)}
	protocols := []string{"CONTROLLER:PLAINTEXT", "PLAINTEXT:PLAINTEXT"}
	if c.scram {
		listeners = append(listeners, "SASL_PLAINTEXT://"+addr(c.ports.sasl))
		protocols = append(protocols, "SASL_PLAINTEXT:SASL_PLAINTEXT")
	}
	if c.tls != nil {
		listeners = append(listeners, "SSL://"+addr(c.ports.ssl))
		protocols = append(protocols, "SSL:SSL")
	}
	rf, minISR := "1", "1"
	if c.nodes >= 3 {
		rf, minISR = "3", "2"
	} else if c.nodes == 2 {
		rf = "2"
	}
	p := map[string]string{
		"process.roles":                  "broker,controller",
		"node.id":                        strconv.Itoa(int(c.id)),
		"controller.quorum.voters":       c.voters,
		"listeners":                      strings.Join(append(slices.Clone(listeners), "CONTROLLER://"+addr(c.ports.controller)), ","),
		"advertised.listeners":           strings.Join(listeners, ","),
		"listener.security.protocol.map": strings.Join(protocols, ","),
		"inter.broker.listener.name":     "PLAINTEXT",
		"controller.listener.names":      "CONTROLLER",
		"log.dirs":                       c.dataDir,

		"default.replication.factor":               rf,
		"min.insync.replicas":                      minISR,
		"offsets.topic.replication.factor":         rf,
		"transaction.state.log.replication.factor": rf,
		"transaction.state.log.min.isr":            minISR,
		// Fewer internal partitions than the 50 defaults: each is created, led
		// and loaded on first use, which a test waits for.
		"offsets.topic.num.partitions":         "5",
		"transaction.state.log.num.partitions": "5",

		// Consumer groups form at once instead of after 3 s.
		"group.initial.rebalance.delay.ms": "0",
		// Registration and unfencing each wait for a heartbeat (default every
		// 2 s); a killed broker is fenced, and its partitions move, after the
		// session timeout (default 9 s).
		"broker.heartbeat.interval.ms": "200",
		"broker.session.timeout.ms":    "3000",
		// The log cleaner takes a 128 MiB dedupe buffer at start, half a test
		// broker's heap, and sleeps 15 s between looks; retention is checked
		// every 5 min. Tests of compaction and retention wait for both.
		// A log is cleaned again only when half of it is dirty (the default
		// ratio 0.5): a cleaner pass that ran while a test was still
		// producing would leave the rest of its records uncompacted for good.
		"log.cleaner.dedupe.buffer.size":  strconv.Itoa(16 << 20),
		"log.cleaner.backoff.ms":          "1000",
		"log.cleaner.min.cleanable.ratio": "0.01",
		"log.retention.check.interval.ms": "1000",
		"log.initial.task.delay.ms":       "1000",
	}
	if c.version.shareCoordinator() {
		p["share.coordinator.state.topic.replication.factor"] = rf
		p["share.coordinator.state.topic.min.isr"] = minISR
	}
	if c.scram {
		p["listener.name.sasl_plaintext.sasl.enabled.mechanisms"] = "SCRAM-SHA-256,SCRAM-SHA-512"
		for _, mech := range []string{"scram-sha-256", "scram-sha-512"} {
			p["listener.name.sasl_plaintext."+mech+".sasl.jaas.config"] = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
		}
	}
	if c.tls != nil {
		const l = "listener.name.ssl."
		p[l+"ssl.keystore.type"] = "PEM"
		p[l+"ssl.keystore.location"] = c.tls.BrokerKeystore
		p[l+"ssl.truststore.type"] = "PEM"
		p[l+"ssl.truststore.location"] = c.tls.CA
		p[l+"ssl.client.auth"] = "required"
	}
	maps.Copy(p, c.overrides)
	return p
}

// renderProperties writes a properties file, keys sorted. Values are written
// as they are: none the harness makes holds a backslash or a newline.
func renderProperties(p map[string]string) []byte {
	var b bytes.Buffer
	b.WriteString("# written by kferry's test/realkafka\n")
	for _, k := range slices.Sorted(maps.Keys(p)) {
		fmt.Fprintf(&b, "%s=%s\n", k, p[k])
	}
	return b.Bytes()
}

// newUUID returns a random Kafka Uuid in its string form (URL-safe base64 of
// 16 bytes, no padding), as StorageTool random-uuid makes cluster and
// directory IDs: never starting with '-', which a command line would take for
// a flag.
func newUUID() (string, error) {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		// Kafka's Uuid.randomUuid sets the version-4 and variant bits too.
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		if s := base64.RawURLEncoding.EncodeToString(b[:]); s[0] != '-' {
			return s, nil
		}
	}
}

// metaProperties is what StorageTool format writes into a log dir besides
// bootstrap.checkpoint (the same for 3.9 and 4.x).
func metaProperties(clusterID, directoryID string, nodeID int32) []byte {
	return fmt.Appendf(nil, "#\nnode.id=%d\ndirectory.id=%s\nversion=1\ncluster.id=%s\n", nodeID, directoryID, clusterID)
}
