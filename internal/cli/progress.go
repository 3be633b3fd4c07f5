package cli

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/kferry/kferry/internal/pipeline"
)

// progress draws a status on a terminal: one line of records moved (of how
// many, when the command knows), bytes, the rate over the last seconds and the
// time left; below it, while export or backup read several partitions, the
// progressSlowest partitions with the most left to read (a whole cluster is
// thousands of partitions: never a line each). Log lines pass through it
// (logWriter): each clears the status, is written, and the status is drawn
// again below it, so the two never mix.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	desc    string
	now     func() time.Time
	total   int64 // records expected; 0 when unknown
	records int64
	bytes   int64
	start   time.Time
	// samples are (time, records) about a second apart over the last
	// rateWindow: the rate is measured across them, never across a
	// millisecond (one fetched batch would make it billions per second).
	samples []progressSample
	drawn   time.Time // when the line was last drawn
	shown   bool      // a status line is on the terminal
	below   int       // partition lines drawn below it
	// parts are the partitions being read (PartitionProgress), finished
	// ones removed: a few windows' worth, however big the cluster.
	parts map[progressPart]progressDone
}

type progressPart struct {
	topic     string
	partition int32
}

type progressDone struct{ done, total int64 }

type progressSample struct {
	at      time.Time
	records int64
}

const (
	progressRedraw = 200 * time.Millisecond
	// progressSlowest is how many partitions the status lists at most.
	progressSlowest = 3
	rateWindow      = 10 * time.Second
	// clearLine returns to the line's start and erases it.
	clearLine = "\r\x1b[K"
)

// newProgress returns a status line on g's stderr when it is a terminal, and
// nil otherwise (the logs tell then). Until done, g's log lines go through it.
func (g *globals) newProgress(desc string) *progress {
	f, ok := g.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	p := startProgress(g.stderr, desc, time.Now)
	g.logOut().attach(p)
	return p
}

func startProgress(w io.Writer, desc string, now func() time.Time) *progress {
	t := now()
	return &progress{w: w, desc: desc, now: now, start: t, samples: []progressSample{{at: t}}}
}

// Add implements pipeline.Progress.
func (p *progress) Add(records, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records += records
	p.bytes += bytes
	t := p.now()
	if t.Sub(p.samples[len(p.samples)-1].at) >= time.Second {
		p.samples = append(p.samples, progressSample{at: t, records: p.records})
		for len(p.samples) > 2 && t.Sub(p.samples[1].at) >= rateWindow {
			p.samples = p.samples[1:]
		}
	}
	if t.Sub(p.drawn) >= progressRedraw {
		p.draw(t)
	}
}

// SetTotal implements pipeline.ProgressTotal.
func (p *progress) SetTotal(records int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = records
}

// Partition implements pipeline.PartitionProgress.
func (p *progress) Partition(topic string, partition int32, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := progressPart{topic, partition}
	if done >= total {
		delete(p.parts, k)
		return
	}
	if p.parts == nil {
		p.parts = map[progressPart]progressDone{}
	}
	p.parts[k] = progressDone{done, total}
}

// draw writes the status; p.mu is held.
func (p *progress) draw(t time.Time) {
	p.drawn = t
	if p.shown {
		p.erase()
	} else {
		_, _ = fmt.Fprint(p.w, clearLine) // whatever the line holds
	}
	p.write(t)
}

// erase clears the status drawn last, if any; p.mu is held. A status of one
// line is cleared where it stands; one with partition lines from its first.
func (p *progress) erase() {
	if !p.shown {
		return
	}
	if p.below > 0 {
		_, _ = fmt.Fprintf(p.w, "\x1b[%dA"+clearLine+"\x1b[J", p.below) // up, then clear to the screen's end
	} else {
		_, _ = fmt.Fprint(p.w, clearLine)
	}
	p.shown, p.below = false, 0
}

// write draws the status where the cursor is; p.mu is held. A status lost to a
// closed terminal is no failure.
func (p *progress) write(t time.Time) {
	text := p.line(t)
	slow := p.slowest()
	for _, s := range slow {
		text += "\n\x1b[K" + s
	}
	_, _ = fmt.Fprint(p.w, text)
	p.shown, p.below = true, len(slow)
}

// slowest lists the progressSlowest partitions with the most left to read,
// when more than one is being read; p.mu is held.
func (p *progress) slowest() []string {
	if len(p.parts) < 2 {
		return nil
	}
	keys := make([]progressPart, 0, len(p.parts))
	for k := range p.parts {
		keys = append(keys, k)
	}
	left := func(k progressPart) int64 { return p.parts[k].total - p.parts[k].done }
	slices.SortFunc(keys, func(a, b progressPart) int {
		return cmp.Or(cmp.Compare(left(b), left(a)), cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	var lines []string
	for _, k := range keys[:min(len(keys), progressSlowest)] {
		d := p.parts[k]
		lines = append(lines, fmt.Sprintf("  %s/%d  %3d%%  %s left", k.topic, k.partition, 100*d.done/d.total, count(d.total-d.done)))
	}
	if more := len(keys) - progressSlowest; more > 0 {
		lines[len(lines)-1] += fmt.Sprintf("  (+%s partitions in flight)", count(int64(more)))
	}
	return lines
}

// line is the status line at time t.
func (p *progress) line(t time.Time) string {
	parts := []string{p.desc}
	if p.total > 0 {
		pct := min(100*p.records/p.total, 100)
		parts = append(parts, fmt.Sprintf("%3d%% %s/%s records", pct, count(p.records), count(p.total)))
	} else {
		parts = append(parts, count(p.records)+" records")
	}
	parts = append(parts, sizeString(p.bytes))
	if rate, ok := p.rate(t); ok {
		parts = append(parts, count(int64(rate))+" rec/s")
		if left := p.total - p.records; p.total > 0 && left > 0 && rate > 0 {
			parts = append(parts, "ETA "+shortDuration(time.Duration(float64(left)/rate*float64(time.Second))))
		}
	}
	parts = append(parts, shortDuration(t.Sub(p.start)))
	return strings.Join(parts, "  ")
}

// rate is records per second across the samples and now, once a second has
// passed.
func (p *progress) rate(t time.Time) (float64, bool) {
	first := p.samples[0]
	span := t.Sub(first.at)
	if span < time.Second {
		return 0, false
	}
	return float64(p.records-first.records) / span.Seconds(), true
}

// writeAbove writes b (whole log lines) where the status line is and draws the
// line again below it.
func (p *progress) writeAbove(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	shown := p.shown
	p.erase()
	n, err := p.w.Write(b)
	if shown {
		p.write(p.now())
	}
	return n, err
}

// clear erases the status line for good.
func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
}

// done erases the status line and gives g's log its own writer back.
func (p *progress) done(g *globals) {
	if p == nil {
		return
	}
	g.logOut().attach(nil)
	p.clear()
}

// asProgress avoids handing the pipeline a typed nil.
func asProgress(p *progress) pipeline.Progress {
	if p == nil {
		return nil
	}
	return p
}

// logWriter is where the log goes: stderr, or through the status line while
// one is shown.
type logWriter struct {
	mu  sync.Mutex
	w   io.Writer
	bar *progress
}

func (l *logWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bar != nil {
		return l.bar.writeAbove(b)
	}
	return l.w.Write(b)
}

func (l *logWriter) attach(p *progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bar = p
}

// count formats n with thousands separators: 1,234,567.
func count(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// sizeString formats bytes in binary units: 0 B, 12.3 KiB, 4.5 GiB.
func sizeString(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGT"[i-1])
}

// shortDuration rounds to seconds: 45s, 3m05s, 2h10m.
func shortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
