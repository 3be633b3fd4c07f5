package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kferry/kferry/test/realkafka"
)

// runMainEnv makes the test binary run the command itself, so that the tests
// start and signal a real kafkaserver process without building one.
const runMainEnv = "KAFKASERVER_TEST_RUN_MAIN"

var kafkaSkip string

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	skip, err := realkafka.Gate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kafkaserver:", err)
		os.Exit(1)
	}
	kafkaSkip = skip
	os.Exit(m.Run())
}

func TestParseTopic(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want topic
		ok   bool
	}{
		{"bench:9", topic{"bench", 9}, true},
		{"a:b:1", topic{}, false}, // the partitions are "b:1"
		{"bench", topic{}, false},
		{":3", topic{}, false},
		{"bench:0", topic{}, false},
		{"bench:-1", topic{}, false},
		{"bench:x", topic{}, false},
		{"bench:4294967297", topic{}, false},
	} {
		got, err := parseTopic(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseTopic(%q) = %+v, %v; want %+v, ok %t", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-version", "0.1.0"},
		{"-topic", "bench"},
		{"extra"},
	} {
		if err := run(args, os.Stdout); err == nil {
			t.Errorf("run(%q) = nil, want an error", args)
		}
	}
}

// server is a kafkaserver process a test started.
type server struct {
	cmd       *exec.Cmd
	bootstrap string
	pids      []int
	version   string
}

// startServer runs kafkaserver with args and reads what it prints once it
// serves. Cleanup SIGKILLs it if the test has not stopped it.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // already gone when the test stopped it
		_ = cmd.Wait()
	})
	lines := make(chan []string, 1)
	go func() {
		var ls []string
		sc := bufio.NewScanner(out)
		for len(ls) < 3 && sc.Scan() {
			ls = append(ls, sc.Text())
		}
		lines <- ls
	}()
	var ls []string
	select {
	case ls = <-lines:
	case <-time.After(5 * time.Minute): // a bound on a hung start, not a timing assertion
		t.Fatal("kafkaserver printed nothing within 5 minutes")
	}
	if len(ls) < 3 {
		t.Fatalf("kafkaserver printed %q, want bootstrap, pids and version lines", ls)
	}
	s := &server{cmd: cmd, bootstrap: ls[0]}
	pids, ok := strings.CutPrefix(ls[1], "pids ")
	if !ok {
		t.Fatalf("second line %q, want pids ...", ls[1])
	}
	for _, f := range strings.Fields(pids) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 0 {
			t.Fatalf("second line %q: bad PID %q", ls[1], f)
		}
		s.pids = append(s.pids, pid)
	}
	if s.version, ok = strings.CutPrefix(ls[2], "version "); !ok {
		t.Fatalf("third line %q, want version ...", ls[2])
	}
	return s
}

// jvmGone reports whether pid has exited: no such process, or a zombie
// waiting for whoever inherited it to reap it.
func jvmGone(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// TestServeAndStop starts a node with a topic, produces to and reads from
// every partition of it through the printed address, and stops the server
// with SIGTERM: it must exit 0 having stopped its JVM.
func TestServeAndStop(t *testing.T) {
	if kafkaSkip != "" {
		t.Skip(kafkaSkip)
	}
	s := startServer(t, "-topic", "t:3")
	if len(s.pids) != 1 || s.version != realkafka.DefaultKafka {
		t.Fatalf("pids %v, version %s; want one JVM of %s", s.pids, s.version, realkafka.DefaultKafka)
	}
	roundTrip(t, s.bootstrap, "t", 3)

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("kafkaserver after SIGTERM: %v", err)
	}
	// Close waited for the JVM and reaped it before kafkaserver exited.
	for _, pid := range s.pids {
		if !jvmGone(pid) {
			t.Errorf("JVM %d still runs after kafkaserver exited", pid)
		}
	}
}

// TestKilledLeavesNoJVM SIGKILLs kafkaserver, which cannot stop its JVM
// itself: the kernel must (Pdeathsig).
func TestKilledLeavesNoJVM(t *testing.T) {
	if kafkaSkip != "" {
		t.Skip(kafkaSkip)
	}
	s := startServer(t)
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait() // "signal: killed"
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for _, pid := range s.pids {
		for !jvmGone(pid) {
			select {
			case <-ctx.Done():
				t.Fatalf("JVM %d still runs a minute after kafkaserver was killed", pid)
			case <-time.After(100 * time.Millisecond): // polling interval
			}
		}
	}
}

// roundTrip produces one record into each partition and reads them all back.
func roundTrip(t *testing.T, bootstrap, topic string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for p := range partitions {
		r := &kgo.Record{Topic: topic, Partition: p, Value: []byte(strconv.Itoa(int(p)))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce to %s/%d: %v", topic, p, err)
		}
	}
	seen := map[int32]string{}
	for len(seen) < int(partitions) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", len(seen), partitions, err)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { seen[r.Partition] = string(r.Value) })
	}
	for p := range partitions {
		if seen[p] != strconv.Itoa(int(p)) {
			t.Errorf("partition %d holds %q, want %q", p, seen[p], strconv.Itoa(int(p)))
		}
	}
}
