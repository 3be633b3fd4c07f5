package cli

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// lastLine is the status line last drawn into out.
func lastLine(out string) string {
	i := strings.LastIndex(out, clearLine)
	if i < 0 {
		return ""
	}
	return strings.SplitN(out[i+len(clearLine):], "\n", 2)[0]
}

// TestProgressLine (issue 16.13): the status line shows the share of the total,
// the count, bytes, a rate measured over at least a second (a big first batch
// right after the start is not billions per second) and the time left.
func TestProgressLine(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	var out bytes.Buffer
	p := startProgress(&out, "backup", clock.now)
	p.SetTotal(20000)

	clock.t = clock.t.Add(time.Millisecond)
	p.Add(5000, 5<<20)
	if got, want := lastLine(out.String()), "backup   25% 5,000/20,000 records  5.0 MiB  0s"; got != want {
		t.Errorf("after 1 ms: %q, want %q (no rate yet)", got, want)
	}
	for range 7 { // 5,000 more records every 250 ms
		clock.t = clock.t.Add(250 * time.Millisecond)
		p.Add(5000/7, 0)
	}
	clock.t = clock.t.Add(250 * time.Millisecond)
	p.Add(5000-7*(5000/7), 0) // 10,000 records after 2.001 s
	if got, want := lastLine(out.String()), "backup   50% 10,000/20,000 records  5.0 MiB  4,997 rec/s  ETA 2s  2s"; got != want {
		t.Errorf("after 2 s: %q, want %q", got, want)
	}

	// Without a total: no percentage, no ETA.
	out.Reset()
	q := startProgress(&out, "import", clock.now)
	clock.t = clock.t.Add(90 * time.Second)
	q.Add(1234567, 3<<30)
	if got, want := lastLine(out.String()), "import  1,234,567 records  3.0 GiB  13,717 rec/s  1m30s"; got != want {
		t.Errorf("no total: %q, want %q", got, want)
	}
}

// TestProgressKeepsLogLinesApart (issue 16.13): a log line written while the
// status line is shown clears it first, starts at the beginning of the line,
// and the status line is drawn again after it; after done the log writes
// straight to stderr.
func TestProgressKeepsLogLinesApart(t *testing.T) {
	var out bytes.Buffer
	g := &globals{stderr: &out, logLevel: "info", logFormat: "text"}
	log, err := g.logger()
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	p := startProgress(&out, "restore", clock.now)
	g.logOut().attach(p)
	clock.t = clock.t.Add(time.Second)
	p.Add(10, 100)
	log.Info("topic created", "topic", "orders")
	got := out.String()
	status := "restore  10 records  100 B  10 rec/s  1s"
	want := clearLine + status + clearLine
	if !strings.HasPrefix(got, want) {
		t.Fatalf("output %q, want it to start %q", got, want)
	}
	rest := strings.TrimPrefix(got, want)
	logLine, after, ok := strings.Cut(rest, "\n")
	if !ok || !strings.HasPrefix(logLine, "time=") || !strings.Contains(logLine, "msg=\"topic created\" topic=orders") || after != status {
		t.Errorf("after the status line: %q, want the log line alone on its line, then the status line again", rest)
	}

	out.Reset()
	p.done(g)
	log.Info("restore done")
	if got := out.String(); !strings.HasPrefix(got, clearLine+"time=") || strings.Count(got, clearLine) != 1 {
		t.Errorf("after done: %q, want the line cleared and the log alone", got)
	}
}

func TestCountAndSizes(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -5: "-5"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := sizeString(n); got != want {
			t.Errorf("sizeString(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{0: "0s", 59 * time.Second: "59s", 185 * time.Second: "3m05s", 7800 * time.Second: "2h10m"} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestProgressListsSlowestPartitions (issue 12): while thousands of partitions
// are read the status is the aggregate line and the progressSlowest partitions
// with the most left, not a line each; finished partitions leave the list, and
// the next draw first erases every line of the previous one.
func TestProgressListsSlowestPartitions(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	var out bytes.Buffer
	p := startProgress(&out, "backup", clock.now)
	p.SetTotal(10000 * 100)
	for i := range 10000 {
		done := int64(90)
		switch i {
		case 4321:
			done = 5
		case 17:
			done = 10
		case 9999:
			done = 20
		}
		p.Partition(fmt.Sprintf("t%04d", i/10), int32(i%10), done, 100)
	}
	clock.t = clock.t.Add(time.Second)
	p.Add(100, 1000)
	first := out.String()
	want := clearLine + "backup    0% 100/1,000,000 records  1000 B  100 rec/s  ETA 2h46m  1s" +
		"\n\x1b[K  t0432/1    5%  95 left" +
		"\n\x1b[K  t0001/7   10%  90 left" +
		"\n\x1b[K  t0999/9   20%  80 left  (+9,997 partitions in flight)"
	if first != want {
		t.Fatalf("status %q, want %q", first, want)
	}

	// t0432/1 finishes: the next draw goes up the three partition lines, clears
	// to the end of the screen and lists the next slowest.
	p.Partition("t0432", 1, 100, 100)
	out.Reset()
	clock.t = clock.t.Add(time.Second)
	p.Add(100, 1000)
	got := out.String()
	if !strings.HasPrefix(got, "\x1b[3A"+clearLine+"\x1b[J") {
		t.Errorf("redraw %q does not erase the 4-line status first", got)
	}
	if strings.Contains(got, "t0432/1") || !strings.Contains(got, "t0001/7") || strings.Count(got, "\n") != progressSlowest {
		t.Errorf("redraw %q: want t0432/1 gone and %d partition lines", got, progressSlowest)
	}

	// Down to one partition being read: no partition lines.
	for i := range 10000 {
		if i != 17 {
			p.Partition(fmt.Sprintf("t%04d", i/10), int32(i%10), 100, 100)
		}
	}
	out.Reset()
	p.clear()
	clock.t = clock.t.Add(time.Second)
	p.Add(1, 1)
	if got := out.String(); strings.Contains(got, "\n") {
		t.Errorf("one partition left: %q, want the aggregate line alone", got)
	}
}
