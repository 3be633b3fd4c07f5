package realkafka

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Node is one combined broker and controller of a Cluster: a JVM the harness
// starts, kills and restarts. Its methods may be called from any goroutine.
type Node struct {
	c     *Cluster
	id    int32
	ports nodePorts
	dir   string

	mu   sync.Mutex
	proc *process // nil while stopped
}

// process is one run of a node's JVM.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the JVM has exited and been reaped
	err  error         // its exit, once done is closed
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ID is the node.id.
func (n *Node) ID() int32 { return n.id }

// Addr is the PLAINTEXT listener, 127.0.0.1:port.
func (n *Node) Addr() string { return "127.0.0.1:" + strconv.Itoa(n.ports.broker) }

// SASLAddr is the SASL_PLAINTEXT (SCRAM) listener, or "" without one.
func (n *Node) SASLAddr() string { return addrOrEmpty(n.ports.sasl) }

// TLSAddr is the SSL (mutual TLS) listener, or "" without one.
func (n *Node) TLSAddr() string { return addrOrEmpty(n.ports.ssl) }

func addrOrEmpty(port int) string {
	if port == 0 {
		return ""
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}

// LogPath is the node's broker log: the JVM's stdout and stderr, every run
// appended.
func (n *Node) LogPath() string { return filepath.Join(n.dir, "broker.log") }

// PID is the JVM's process ID, or 0 while the node is stopped.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil || n.proc.exited() {
		return 0
	}
	return n.proc.cmd.Process.Pid
}

// Running reports whether the node's JVM is alive.
func (n *Node) Running() bool { return n.PID() != 0 }

// Kill SIGKILLs the node's JVM (its whole process group) and waits until it
// is gone: a crash, with no controlled shutdown. Killing a stopped node does
// nothing.
func (n *Node) Kill() {
	if p := n.take(); p != nil {
		p.signal(syscall.SIGKILL)
		<-p.done
	}
}

// Stop SIGTERMs the node's JVM, as kafka-server-stop.sh does (a controlled
// shutdown), and SIGKILLs it if it has not exited within timeout. It reports
// whether the JVM stopped by itself. Stopping a stopped node does nothing.
func (n *Node) Stop(timeout time.Duration) (graceful bool) {
	p := n.take()
	if p == nil {
		return true
	}
	return p.stop(timeout)
}

// Start starts a stopped or killed node again, with its data, and waits until
// it serves (see Cluster for when a node is ready).
func (n *Node) Start(ctx context.Context) error {
	if n.Running() {
		return fmt.Errorf("node %d: already running", n.id)
	}
	ctx, cancel := context.WithTimeout(ctx, n.c.opts.StartTimeout)
	defer cancel()
	p, err := n.spawn()
	if err != nil {
		return err
	}
	if err := n.waitReady(ctx, p, n.c.running()); err != nil {
		n.Kill() // not half up: stopped, as before the call
		return err
	}
	return nil
}

// Restart stops the node (SIGTERM, then SIGKILL after timeout) and starts it.
func (n *Node) Restart(ctx context.Context, timeout time.Duration) error {
	n.Stop(timeout)
	return n.Start(ctx)
}

// take detaches the node's process for stopping.
func (n *Node) take() *process {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.proc
	n.proc = nil
	return p
}

// signal sends sig to the JVM's process group (the JVM leads it).
func (p *process) signal(sig syscall.Signal) {
	// ESRCH: the group is gone already, which is what the caller wants.
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

func (p *process) stop(timeout time.Duration) bool {
	p.signal(syscall.SIGTERM)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		p.signal(syscall.SIGKILL)
		<-p.done
		return false
	}
}

// spawn starts the node's JVM, output appended to its log. The JVM gets a
// process group of its own, so that a signal reaches everything it runs, and
// is SIGKILLed by the kernel if the test process dies first (Pdeathsig), so
// that no broker outlives a crashed, killed or timed-out test binary.
func (n *Node) spawn() (*process, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	in := n.c.install
	log, err := os.OpenFile(n.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer func() { _ = log.Close() }() // the JVM holds its own copy of the descriptor
	// A marker between runs; without it the log is still the JVM's.
	_, _ = fmt.Fprintf(log, "==== realkafka: starting node %d (Apache Kafka %s) at %s\n", n.id, in.Version.Kafka, time.Now().Format(time.RFC3339Nano))
	args := append(in.JVMArgs(n.c.opts.Heap), "kafka.Kafka", filepath.Join(n.dir, "server.properties"))
	cmd := exec.Command(in.Java, args...)
	cmd.Dir = n.dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := startCmd(cmd); err != nil {
		return nil, fmt.Errorf("node %d: start java: %w", n.id, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	n.proc = p
	return p, nil
}

// startError is a node that did not come up; its log may say why.
type startError struct {
	node     int32
	msg, log string
	tail     string
}

func (e *startError) Error() string {
	return fmt.Sprintf("node %d %s; end of %s:\n%s", e.node, e.msg, e.log, e.tail)
}

// errPortClash matches (errors.Is) a startError of a node that died because
// a port was taken between the harness picking it and the broker binding it.
var errPortClash = errors.New("port taken meanwhile")

// Is makes errors.Is(err, errPortClash) find a port clash anywhere in err.
func (e *startError) Is(target error) bool {
	return target == errPortClash && strings.Contains(e.tail, "Address already in use")
}

// portClash reports whether any node of a failed start hit a port clash.
func portClash(err error) bool { return errors.Is(err, errPortClash) }

// logTail returns the last n lines of the node's log, stack frames left out.
func (n *Node) logTail(lines int) string {
	b, err := os.ReadFile(n.LogPath())
	if err != nil {
		return err.Error()
	}
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "at ") && !strings.HasPrefix(strings.TrimSpace(l), "... ") {
			keep = append(keep, l)
		}
	}
	return tail(strings.Join(keep, "\n"), lines)
}

// spawner is a goroutine locked to an OS thread that never exits: Linux sends
// Pdeathsig when the thread that forked the child ends, not the process, and
// Go ends a thread when a goroutine locked to it returns. Forking every JVM
// from this thread ties the JVMs' lives to the test process itself.
var spawner struct {
	once sync.Once
	req  chan spawnReq
}

type spawnReq struct {
	cmd *exec.Cmd
	err chan error
}

// startCmd starts cmd from the spawner's thread.
func startCmd(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.req = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range spawner.req {
				r.err <- r.cmd.Start()
			}
		}()
	})
	r := spawnReq{cmd: cmd, err: make(chan error, 1)}
	spawner.req <- r
	return <-r.err
}
