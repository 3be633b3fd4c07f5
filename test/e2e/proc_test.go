package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// proc is a kferry run in the background, for tests that kill it.
type proc struct {
	args           []string
	cmd            *exec.Cmd
	stdout, stderr syncBuffer // read while the process runs
	done           chan struct{}
	err            error
	start          time.Time
}

// syncBuffer is a bytes.Buffer that a test may read while the process writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startKferry starts the binary (environment as kferry's) without waiting; the
// test's cleanup kills it if it still runs.
func startKferry(t *testing.T, o runOpts, args ...string) *proc {
	t.Helper()
	p := &proc{args: args, cmd: exec.Command(kferryBin, args...), done: make(chan struct{})}
	p.cmd.Env = append(baseEnv(t), o.env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start kferry: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) String() string {
	return fmt.Sprintf("kferry %s (%v after %s)\nstdout:\n%s\nstderr:\n%s", strings.Join(p.args, " "), p.err, time.Since(p.start).Round(time.Millisecond), p.stdout.String(), p.stderr.String())
}

// kill sends SIGKILL and fails the test unless that is what ended the process
// (a run that ended on its own was not interrupted).
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if !p.killNow(t) {
		t.Fatalf("kferry ended before it was killed: %s", p)
	}
}

// killNow sends SIGKILL unless p already ended, waits for it to end and reports
// whether SIGKILL is what ended it (false: it ended by itself first).
func (p *proc) killNow(t *testing.T) bool {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("kill: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("kferry did not end within 30s of SIGKILL")
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// exitCode is the exit code of an ended run (-1 if a signal ended it).
func (p *proc) exitCode() int { return p.cmd.ProcessState.ExitCode() }

// waitUntil polls cond until it holds, failing the test if p ends first or the
// deadline passes.
func waitUntil(t *testing.T, p *proc, what string, timeout time.Duration, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond(ctx)
		if ok {
			return
		}
		if p.exited() {
			t.Fatalf("waiting for %s: kferry ended first (last error %v)\n%s", what, err, p)
		}
		select {
		case <-ctx.Done():
			_ = p.cmd.Process.Kill() // before reading its output
			<-p.done
			t.Fatalf("waiting for %s: not within %s (last error %v)\n%s", what, timeout, err, p)
		case <-tick.C:
		}
	}
}

// admin is a franz-go admin client for watching a cluster from the test.
type admin struct {
	cl  *kgo.Client
	adm *kadm.Client
}

func newAdmin(t *testing.T, c cluster) *admin {
	t.Helper()
	// A short metadata age: kadm caches metadata, and the tests watch topics
	// appear.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.MetadataMinAge(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &admin{cl: cl, adm: kadm.NewClient(cl)}
}

// committed sums a group's committed offsets over topics (0 without commits).
func (a *admin) committed(ctx context.Context, group string, topics []string) (int64, error) {
	resps, err := a.adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return 0, nil // nothing committed yet
	}
	if err != nil {
		return 0, err
	}
	want := map[string]bool{}
	for _, t := range topics {
		want[t] = true
	}
	var sum int64
	resps.Each(func(r kadm.OffsetResponse) {
		if r.Err == nil && r.At > 0 && want[r.Topic] {
			sum += r.At
		}
	})
	return sum, nil
}

// endOffsets sums the high watermarks (uncommitted records included) of the
// topics; topics that do not exist count 0.
func (a *admin) endOffsets(ctx context.Context, topics []string) (int64, error) {
	return sumOffsets(ctx, topics, a.adm.ListEndOffsets)
}

// stableEnd sums the last stable offsets of topics (missing ones count 0): how
// far read_committed readers see, records and transaction markers.
func (a *admin) stableEnd(ctx context.Context, topics []string) (int64, error) {
	return sumOffsets(ctx, topics, a.adm.ListCommittedOffsets)
}

// sumOffsets sums the offsets a kadm listing gives for topics, skipping
// partitions it could not list.
func sumOffsets(ctx context.Context, topics []string, list func(context.Context, ...string) (kadm.ListedOffsets, error)) (int64, error) {
	ends, err := list(ctx, topics...)
	if err != nil {
		return 0, err
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			sum += o.Offset
		}
	})
	return sum, nil
}

// topicsExist reports whether every topic exists.
func (a *admin) topicsExist(ctx context.Context, topics []string) (bool, error) {
	td, err := a.adm.ListTopics(ctx, topics...)
	if err != nil {
		return false, err
	}
	for _, t := range topics {
		if d, ok := td[t]; !ok || d.Err != nil {
			return false, nil
		}
	}
	return true, nil
}

// members counts the members of the groups whose names start with prefix.
func (a *admin) members(ctx context.Context, prefix string) (int, error) {
	listed, err := a.adm.ListGroups(ctx)
	if err != nil {
		return 0, err
	}
	var names []string
	for _, g := range listed.Groups() {
		if strings.HasPrefix(g, prefix) {
			names = append(names, g)
		}
	}
	if len(names) == 0 {
		return 0, nil
	}
	described, err := a.adm.DescribeGroups(ctx, names...)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, g := range described {
		n += len(g.Members)
	}
	return n, nil
}
