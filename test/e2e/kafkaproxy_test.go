package e2e

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaProxy is a Kafka protocol proxy on 127.0.0.1 in front of one broker, so
// that a test can leave chosen requests of kferry unanswered on a real broker
// as it does with kfake's ControlKey. It forwards each client connection to
// the broker and rewrites the broker addresses in Metadata, FindCoordinator
// and DescribeCluster answers to its own, so that a client that bootstraps
// through it stays on it.
//
// A held request is not forwarded, and neither is anything the client sends
// after it on that connection (Kafka answers a connection's requests in
// order): the connection hangs, as one to a stalled broker does, until the
// client closes it. Other connections go on.
type kafkaProxy struct {
	ln       net.Listener
	upstream string
	host     string
	port     int32

	mu    sync.Mutex
	holds map[int16][]func(kmsg.Request) bool
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// newKafkaProxy starts a proxy to the broker at upstream; the test's cleanup
// stops it and closes every connection.
func newKafkaProxy(t *testing.T, upstream string) *kafkaProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	p := &kafkaProxy{ln: ln, upstream: upstream, host: host, port: int32(n), holds: map[int16][]func(kmsg.Request) bool{}, conns: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *kafkaProxy) addr() string { return p.ln.Addr().String() }

// hold leaves every later request of kind key that match accepts unanswered.
func (p *kafkaProxy) hold(key int16, match func(kmsg.Request) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holds[key] = append(p.holds[key], match)
}

func (p *kafkaProxy) close() {
	_ = p.ln.Close() // ends accept
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close() // ends its goroutines
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// track registers a connection for close; false when the proxy is closing.
func (p *kafkaProxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *kafkaProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.serve(client) })
	}
}

// inflight is a forwarded request whose answer is awaited: what is needed to
// read the answer.
type inflight struct {
	key, version int16
	correlation  int32
}

// serve forwards one client connection until either side closes it.
func (p *kafkaProxy) serve(client net.Conn) {
	defer client.Close()
	broker, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer broker.Close()
	p.track(client, true)
	p.track(broker, true)
	defer p.track(client, false)
	defer p.track(broker, false)

	pending := make(chan inflight, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer client.Close() // a broken answer stream ends the connection
		_ = p.answers(broker, client, pending)
	}()
	_ = p.requests(client, broker, pending)
	close(pending)
	_ = broker.Close()
	<-done
}

// requests forwards the client's requests to the broker until one is held;
// after that it reads and drops the client's bytes until it closes.
func (p *kafkaProxy) requests(client, broker net.Conn, pending chan<- inflight) error {
	r := bufio.NewReader(client)
	for {
		frame, err := readFrame(r)
		if err != nil {
			return err
		}
		in, req, err := p.parseRequest(frame)
		if err != nil {
			return err
		}
		if req != nil && p.held(in.key, req) {
			_, err := io.Copy(io.Discard, r)
			return err
		}
		pending <- in
		if _, err := broker.Write(frame); err != nil {
			return err
		}
	}
}

// held asks the holds of the request's kind.
func (p *kafkaProxy) held(key int16, req kmsg.Request) bool {
	p.mu.Lock()
	matches := p.holds[key]
	p.mu.Unlock()
	for _, m := range matches {
		if m(req) {
			return true
		}
	}
	return false
}

// parseRequest reads a request frame's header, and its body when a hold
// watches its kind (nil otherwise).
func (p *kafkaProxy) parseRequest(frame []byte) (inflight, kmsg.Request, error) {
	b := kbin.Reader{Src: frame[4:]}
	in := inflight{key: b.Int16(), version: b.Int16(), correlation: b.Int32()}
	b.NullableString() // client id
	if !b.Ok() {
		return in, nil, errors.New("request shorter than its header")
	}
	p.mu.Lock()
	watched := len(p.holds[in.key]) > 0
	p.mu.Unlock()
	if !watched {
		return in, nil, nil
	}
	req := kmsg.RequestForKey(in.key)
	if req == nil {
		return in, nil, nil
	}
	req.SetVersion(in.version)
	if req.IsFlexible() {
		skipTags(&b)
	}
	if !b.Ok() {
		return in, nil, fmt.Errorf("request key %d: short header", in.key)
	}
	if err := req.ReadFrom(b.Src); err != nil {
		return in, nil, fmt.Errorf("request key %d v%d: %w", in.key, in.version, err)
	}
	return in, req, nil
}

// answers forwards the broker's answers to the client, rewriting broker
// addresses to the proxy's.
func (p *kafkaProxy) answers(broker, client net.Conn, pending <-chan inflight) error {
	r := bufio.NewReader(broker)
	for {
		frame, err := readFrame(r)
		if err != nil {
			return err
		}
		in, ok := <-pending
		if !ok {
			return errors.New("an answer to no request")
		}
		if got := int32(binary.BigEndian.Uint32(frame[4:])); got != in.correlation {
			return fmt.Errorf("answer %d to request %d", got, in.correlation)
		}
		if frame, err = p.rewrite(in, frame); err != nil {
			return err
		}
		if _, err := client.Write(frame); err != nil {
			return err
		}
	}
}

// rewrite replaces the broker addresses of an answer that carries some.
func (p *kafkaProxy) rewrite(in inflight, frame []byte) ([]byte, error) {
	var resp kmsg.Response
	switch kmsg.Key(in.key) {
	case kmsg.Metadata, kmsg.FindCoordinator, kmsg.DescribeCluster:
		resp = kmsg.ResponseForKey(in.key)
	default:
		return frame, nil
	}
	resp.SetVersion(in.version)
	b := kbin.Reader{Src: frame[8:]} // size, correlation id
	if resp.IsFlexible() {
		skipTags(&b)
	}
	header := len(frame) - len(b.Src)
	if err := resp.ReadFrom(b.Src); err != nil {
		return nil, fmt.Errorf("answer key %d v%d: %w", in.key, in.version, err)
	}
	switch r := resp.(type) {
	case *kmsg.MetadataResponse:
		for i := range r.Brokers {
			r.Brokers[i].Host, r.Brokers[i].Port = p.host, p.port
		}
	case *kmsg.FindCoordinatorResponse:
		if r.NodeID >= 0 {
			r.Host, r.Port = p.host, p.port
		}
		for i := range r.Coordinators {
			if r.Coordinators[i].NodeID >= 0 {
				r.Coordinators[i].Host, r.Coordinators[i].Port = p.host, p.port
			}
		}
	case *kmsg.DescribeClusterResponse:
		for i := range r.Brokers {
			r.Brokers[i].Host, r.Brokers[i].Port = p.host, p.port
		}
	}
	out := append([]byte(nil), frame[:header]...)
	out = resp.AppendTo(out)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out, nil
}

// skipTags reads past a tagged-field section (flexible headers have one).
func skipTags(b *kbin.Reader) {
	for n := b.Uvarint(); n > 0; n-- {
		b.Uvarint()
		b.Span(int(b.Uvarint()))
	}
}

// readFrame reads one size-prefixed Kafka message, the size included.
func readFrame(r *bufio.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > 256<<20 {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	frame := make([]byte, 4+n)
	copy(frame, size[:])
	if _, err := io.ReadFull(r, frame[4:]); err != nil {
		return nil, err
	}
	return frame, nil
}
