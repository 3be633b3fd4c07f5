package realkafka

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options shape a cluster. The zero value is one node of DefaultVersion with
// a PLAINTEXT listener.
type Options struct {
	// Version is the Apache Kafka release, one of Versions; default
	// DefaultVersion().
	Version string
	// Nodes is the number of combined broker+controller nodes, all of them
	// voters: 1 (default) or 3. With 3, topics default to replication factor
	// 3 and min.insync.replicas 2, and so do the internal topics.
	Nodes int
	// SCRAM adds a SASL_PLAINTEXT listener taking SCRAM-SHA-256 and
	// SCRAM-SHA-512, with these users (credentials for both mechanisms each,
	// written at format time).
	SCRAM []User
	// TLS adds an SSL listener that requires a client certificate; the PKI is
	// Cluster.TLS.
	TLS bool
	// Overrides are broker properties that win over the harness's.
	Overrides map[string]string
	// Heap is each JVM's -Xmx; default 256m.
	Heap string
	// StartTimeout bounds a start or restart; default 90s.
	StartTimeout time.Duration
	// Logf reports resolution and start times; default stderr. New uses t.Logf.
	Logf func(format string, args ...any)
}

// User is a SCRAM user. Name and password are letters, digits, '.', '_' and
// '-' (StorageTool's --add-scram syntax has no quoting).
type User struct {
	Name, Password string
}

// Cluster is a running Apache Kafka cluster on 127.0.0.1: JVMs the harness
// started from the cached jars, with data in a temporary folder. Close stops
// every JVM and removes the folder.
type Cluster struct {
	opts    Options
	install *Install
	dir     string
	nodes   []*Node
	tls     *TLSFiles
	startup time.Duration

	closeOnce sync.Once
}

// New starts a cluster for a test and closes it at cleanup; on failure the
// test ends. When the test failed, cleanup first logs the end of each log.
func New(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Logf == nil {
		o.Logf = t.Logf
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.nodes {
				t.Logf("end of node %d's log %s:\n%s", n.id, n.LogPath(), n.logTail(30))
			}
		}
		c.Close()
	})
	return c
}

// Start resolves the release (once per machine), formats and starts the
// cluster on free ports, and returns once every node serves: it answers a
// Metadata request listing every node as a registered broker. The caller must
// Close it.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	in, err := Ensure(ctx, o.Version, o.Logf)
	if err != nil {
		return nil, err
	}
	removeOrphans()
	dir, err := os.MkdirTemp("", "kferry-kafka-"+o.Version+"-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		_ = os.RemoveAll(dir) // the write error is the one to report
		return nil, err
	}
	c := &Cluster{opts: o, install: in, dir: dir}
	if err := c.start(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (o *Options) defaults() error {
	if o.Version == "" {
		o.Version = DefaultVersion()
	}
	if o.Nodes == 0 {
		o.Nodes = 1
	}
	if o.Nodes < 1 || o.Nodes > 9 {
		return fmt.Errorf("realkafka: %d nodes: want 1 to 9", o.Nodes)
	}
	if o.Heap == "" {
		o.Heap = "256m"
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 90 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, "realkafka: "+format+"\n", args...) }
	}
	for _, u := range o.SCRAM {
		if !plainWord(u.Name) || !plainWord(u.Password) {
			return fmt.Errorf("realkafka: SCRAM user %q: name and password must be letters, digits, '.', '_', '-'", u.Name)
		}
	}
	return nil
}

func plainWord(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == ""
}

// start formats the nodes and starts them, on new ports when a port was taken
// by someone else in the meantime.
func (c *Cluster) start(ctx context.Context) error {
	began := time.Now()
	if c.opts.TLS {
		var err error
		if c.tls, err = newTLSFiles(c.dir); err != nil {
			return err
		}
	}
	bootstrap, err := c.install.bootstrapFiles(ctx, c.opts.SCRAM)
	if err != nil {
		return err
	}
	clusterID, err := newUUID()
	if err != nil {
		return err
	}
	const attempts = 3
	for attempt := 1; ; attempt++ {
		if err := c.layOut(clusterID, bootstrap); err != nil {
			return err
		}
		err := c.startNodes(ctx)
		if err == nil {
			break
		}
		c.stopAll(0)
		if attempt == attempts || !portClash(err) {
			return fmt.Errorf("start Apache Kafka %s: %w", c.opts.Version, err)
		}
		c.opts.Logf("a port was taken during start; retrying on others")
	}
	c.startup = time.Since(began)
	c.opts.Logf("Apache Kafka %s: %d node(s) serving at %s after %s", c.opts.Version, len(c.nodes), c.Bootstrap(), c.startup.Round(10*time.Millisecond))
	return nil
}

// layOut picks ports and writes every node's folder: server.properties and a
// formatted, empty log dir (meta.properties and the bootstrap files, as
// StorageTool format writes them).
func (c *Cluster) layOut(clusterID, bootstrap string) error {
	per := 2
	if len(c.opts.SCRAM) > 0 {
		per++
	}
	if c.opts.TLS {
		per++
	}
	ports, err := freePorts(c.opts.Nodes * per)
	if err != nil {
		return err
	}
	c.nodes = nil
	var voters []string
	for i := range c.opts.Nodes {
		n := &Node{c: c, id: int32(i + 1), dir: filepath.Join(c.dir, "node-"+strconv.Itoa(i+1))}
		take := func() int { p := ports[0]; ports = ports[1:]; return p }
		n.ports.broker, n.ports.controller = take(), take()
		if len(c.opts.SCRAM) > 0 {
			n.ports.sasl = take()
		}
		if c.opts.TLS {
			n.ports.ssl = take()
		}
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", n.id, n.ports.controller))
		c.nodes = append(c.nodes, n)
	}
	for _, n := range c.nodes {
		data := filepath.Join(n.dir, "data")
		if err := os.RemoveAll(n.dir); err != nil {
			return err
		}
		if err := os.MkdirAll(data, 0o755); err != nil {
			return err
		}
		cfg := nodeConfig{
			version: c.install.Version, id: n.id, nodes: c.opts.Nodes, ports: n.ports,
			voters: strings.Join(voters, ","), dataDir: data,
			scram: len(c.opts.SCRAM) > 0, tls: c.tls, overrides: c.opts.Overrides,
		}
		if err := os.WriteFile(filepath.Join(n.dir, "server.properties"), renderProperties(cfg.properties()), 0o644); err != nil {
			return err
		}
		dirID, err := newUUID()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(data, "meta.properties"), metaProperties(clusterID, dirID, n.id), 0o644); err != nil {
			return err
		}
		if err := copyTree(bootstrap, data); err != nil {
			return err
		}
	}
	return nil
}

// startNodes spawns every node, then waits for each to serve. The first node
// that fails ends the wait for the others: without it they cannot form a
// quorum.
func (c *Cluster) startNodes(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	procs := make([]*process, len(c.nodes))
	for i, n := range c.nodes {
		p, err := n.spawn()
		if err != nil {
			return err
		}
		procs[i] = p
	}
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() {
			if errs[i] = n.waitReady(ctx, procs[i], len(c.nodes)); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// running counts the nodes whose JVM is alive.
func (c *Cluster) running() int {
	k := 0
	for _, n := range c.nodes {
		if n.Running() {
			k++
		}
	}
	return k
}

// stopAll stops every node at once: SIGTERM, then SIGKILL after timeout (at
// once with 0). When every other node of a cluster has exited, the last one is
// SIGKILLed without waiting: if it leads the KRaft quorum, its graceful
// shutdown waits for acknowledgements from voters that are gone and can only
// time out (5 s), and its broker has already shut down.
func (c *Cluster) stopAll(timeout time.Duration) {
	type stopping struct {
		n *Node
		p *process
	}
	var procs []stopping
	for _, n := range c.nodes {
		if p := n.take(); p != nil {
			procs = append(procs, stopping{n, p})
		}
	}
	sig := syscall.SIGTERM
	if timeout == 0 {
		sig = syscall.SIGKILL
	}
	exited := make(chan int, len(procs))
	for i, s := range procs {
		s.p.signal(sig)
		go func() { <-s.p.done; exited <- i }()
	}
	var deadline <-chan time.Time // nil, never ready, after SIGKILL
	if sig == syscall.SIGTERM {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	left := len(procs)
	gone := make([]bool, len(procs))
	for left > 0 {
		if left == 1 && len(c.nodes) > 1 && sig == syscall.SIGTERM {
			for i, s := range procs {
				if !gone[i] {
					s.p.signal(syscall.SIGKILL)
				}
			}
		}
		select {
		case i := <-exited:
			gone[i] = true
			left--
		case <-deadline:
			for i, s := range procs {
				if !gone[i] {
					c.opts.Logf("node %d did not stop within %s of SIGTERM: killed", s.n.id, timeout)
					s.p.signal(syscall.SIGKILL)
				}
			}
		}
	}
}

// Close stops every node (SIGTERM; SIGKILL after 15 s, or once it is the last
// one running, see stopAll) and removes the cluster's folder, unless
// KFERRY_TEST_KAFKA_KEEP=1 asks to keep it for a look at the logs. It is safe to call more than once.
func (c *Cluster) Close() {
	c.closeOnce.Do(func() {
		c.stopAll(15 * time.Second)
		if os.Getenv("KFERRY_TEST_KAFKA_KEEP") == "1" {
			c.opts.Logf("KFERRY_TEST_KAFKA_KEEP=1: keeping %s (node logs and data)", c.dir)
			return
		}
		if err := os.RemoveAll(c.dir); err != nil {
			c.opts.Logf("remove %s: %v", c.dir, err)
		}
	})
}

// Version is the running Apache Kafka release.
func (c *Cluster) Version() string { return c.install.Version.Kafka }

// StartupTime is how long Start took, from formatting to serving (jar
// resolution not included).
func (c *Cluster) StartupTime() time.Duration { return c.startup }

// Nodes are the cluster's nodes, in node.id order (1, 2, 3).
func (c *Cluster) Nodes() []*Node { return c.nodes }

// Node returns the node with node.id id, or nil.
func (c *Cluster) Node(id int32) *Node {
	if id < 1 || int(id) > len(c.nodes) {
		return nil
	}
	return c.nodes[id-1]
}

// Addrs are the PLAINTEXT listeners, one per node.
func (c *Cluster) Addrs() []string { return c.addrs((*Node).Addr) }

// Bootstrap is Addrs joined with commas, for --brokers and kcat -b.
func (c *Cluster) Bootstrap() string { return strings.Join(c.Addrs(), ",") }

// SASLAddrs are the SASL_PLAINTEXT (SCRAM) listeners; nil without SCRAM.
func (c *Cluster) SASLAddrs() []string { return c.addrs((*Node).SASLAddr) }

// TLSAddrs are the SSL (mutual TLS) listeners; nil without TLS.
func (c *Cluster) TLSAddrs() []string { return c.addrs((*Node).TLSAddr) }

// TLS is the cluster's PKI, or nil without Options.TLS.
func (c *Cluster) TLS() *TLSFiles { return c.tls }

// Users are the SCRAM users.
func (c *Cluster) Users() []User { return c.opts.SCRAM }

func (c *Cluster) addrs(f func(*Node) string) []string {
	var out []string
	for _, n := range c.nodes {
		if a := f(n); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// portsGiven are the ports this process has handed out, never handed out twice.
var portsGiven struct {
	sync.Mutex
	m map[int]bool
}

// freePorts returns n distinct ports that are free on 127.0.0.1 now. They are
// drawn below the kernel's ephemeral range, where no outgoing connection and
// no listener on port 0 (kfake, most test servers) takes them meanwhile.
func freePorts(n int) ([]int, error) {
	lo, hi := 10000, ephemeralStart()
	if hi-lo < 1000 {
		lo, hi = 1024, 65536
	}
	portsGiven.Lock()
	defer portsGiven.Unlock()
	if portsGiven.m == nil {
		portsGiven.m = map[int]bool{}
	}
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 10000 {
			return nil, fmt.Errorf("no %d free ports in %d-%d", n, lo, hi-1)
		}
		p := lo + rand.IntN(hi-lo)
		if portsGiven.m[p] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		_ = l.Close() // a listener that accepted nothing closes without TIME_WAIT
		portsGiven.m[p] = true
		out = append(out, p)
	}
	return out, nil
}

// ephemeralStart is the first port of the kernel's ephemeral range.
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	p, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return p
}

// removeOrphans removes the folders of clusters whose test process died
// without Close (its JVMs died with it): those whose owner PID is gone.
func removeOrphans() {
	owners, _ := filepath.Glob(filepath.Join(os.TempDir(), "kferry-kafka-*", "owner")) // the pattern is well-formed
	for _, owner := range owners {
		b, err := os.ReadFile(owner)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue
		}
		_ = os.RemoveAll(filepath.Dir(owner)) // best effort: another process may be at it too
	}
}
