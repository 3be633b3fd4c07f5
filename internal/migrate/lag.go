package migrate

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/pkg/record"
)

// migratedPart is what the monitor knows of one source partition: the lag
// measured last, end offsets seen over time (for lag in seconds), and the
// offset map of the records this run migrated (for group translation).
type migratedPart struct {
	next              int64 // progress at the last measure
	prevNext, prevEnd int64
	lag               int64
	goalLag           int64 // offsets before the mode's goal not on the target
	seconds           float64
	emptyUpTo         map[int64]bool // ends known to have no records past next
	samples           []endSample
	gapReported       int64
	segs              []offsetRun
	from              int64 // the map holds every record from here on
	fresh             bool  // nothing was migrated before this run: from is the start
	lastNext          int64
	hasMap            bool
}

type endSample struct {
	end int64
	at  time.Time
}

// offsetRun maps source offsets src … src+n-1 to target offsets dst … dst+n-1.
type offsetRun struct{ src, dst, n int64 }

// maxSamples and maxRuns bound the monitor's memory per partition (under
// 100 KiB each); group offsets older than the runs kept are placed by
// counting records back (countBack).
const (
	maxSamples = 4096
	maxRuns    = 4096
)

func (mg *migration) part(topic string, partition int32) *migratedPart {
	k := partKey{topic, partition}
	p := mg.parts[k]
	if p == nil {
		p = &migratedPart{next: -1, prevNext: -1, prevEnd: -1, gapReported: -1}
		mg.parts[k] = p
	}
	return p
}

// committedTxn records the offsets of one import transaction (ImportOptions.OnCommit).
func (mg *migration) committedTxn(c pipeline.Committed) {
	mg.mu.Lock()
	defer mg.mu.Unlock()
	p := mg.part(c.Topic, c.Partition)
	if !p.hasMap || c.Prev != p.lastNext {
		// The first transaction of this run, or one after a commit whose
		// outcome was unknown: the map starts over where the progress was.
		p.segs, p.hasMap, p.fresh, p.from = nil, true, c.Prev < 0, c.Prev
	}
	for i, src := range c.Src {
		dst := c.Dst[i]
		if n := len(p.segs); n > 0 {
			last := &p.segs[n-1]
			if src == last.src+last.n && dst == last.dst+last.n {
				last.n++
				continue
			}
		}
		p.segs = append(p.segs, offsetRun{src: src, dst: dst, n: 1})
	}
	if len(p.segs) > maxRuns {
		drop := len(p.segs) - maxRuns
		p.from, p.fresh = p.segs[drop].src, false
		p.segs = slices.Delete(p.segs, 0, drop)
	}
	p.lastNext = c.Next
}

// placement is where a source group offset goes on the target.
type placement struct {
	kind placeKind
	off  int64 // placeAt: the target offset
	// placeBack: the source records in [o, from) are the ones the target
	// holds right before dstFrom (the target's end offset when dstAtEnd).
	from, dstFrom int64
	dstAtEnd      bool
}

type placeKind int

const (
	placeUnknown placeKind = iota
	placeAt
	placeEnd  // the target's end offset
	placeBack // count back from dstFrom (see countBack)
)

// translate places the source group offset o (the next record the group
// reads) at the target offset of the first migrated record at or after o.
// When no such record is migrated yet, the group goes after the last migrated
// record, so consumers that move now read again the records between (at least
// once, never a record missed). Offsets before what this run mapped are placed
// by counting records back (placeBack). settled says nothing is in flight for
// the partition (caught up, or the import stopped).
func (p *migratedPart) translate(o int64, settled bool) placement {
	if n := len(p.segs); n > 0 {
		last := p.segs[n-1]
		if o > last.src+last.n-1 {
			if settled {
				return placement{kind: placeEnd}
			}
			return placement{kind: placeAt, off: last.dst + last.n}
		}
		if !p.fresh && o < p.from {
			return placement{kind: placeBack, from: p.from, dstFrom: p.segs[0].dst}
		}
		i := sort.Search(n, func(i int) bool { return p.segs[i].src+p.segs[i].n-1 >= o })
		r := p.segs[i]
		return placement{kind: placeAt, off: r.dst + max(0, o-r.src)}
	}
	switch {
	case !settled:
		return placement{kind: placeUnknown}
	case o >= p.next || p.next < 0:
		return placement{kind: placeEnd}
	}
	return placement{kind: placeBack, from: p.next, dstAtEnd: true}
}

// maxCountBack bounds the records read to place one group offset that lies
// before what this run migrated.
const maxCountBack = 1_000_000

// countBack places a group at source offset o that lies before from, the
// first source offset this run's map holds (earlier runs migrated what is
// before it): with k committed source records in [o, from), the group goes to
// the k-th record before dstFrom on the target, which holds the same records
// in the same order. It reads k records on each side.
func (mg *migration) countBack(ctx context.Context, topic, target string, partition int32, o, from, dstFrom int64) (int64, bool, error) {
	if from-o > maxCountBack {
		return 0, false, nil
	}
	k, err := countRecords(ctx, mg.src, kafka.PartitionRange{Topic: topic, Partition: partition, Start: o, End: from}, nil)
	if err != nil || k == 0 {
		return dstFrom, err == nil, err
	}
	ranges, err := mg.dst.Ranges(ctx, []string{target})
	if err != nil {
		return 0, false, err
	}
	logStart := int64(0)
	for _, r := range ranges {
		if r.Partition == partition {
			logStart = r.Start
		}
	}
	// Transaction markers take offsets too, so the window grows until it
	// holds k records.
	for start := max(logStart, dstFrom-k); ; {
		var offs []int64
		n, err := countRecords(ctx, mg.dst, kafka.PartitionRange{Topic: target, Partition: partition, Start: start, End: dstFrom}, &offs)
		if err != nil {
			return 0, false, err
		}
		if n >= k {
			return offs[n-k], true, nil
		}
		if start == logStart {
			return 0, false, nil // retention took records the count needs
		}
		start = max(logStart, start-(k-n))
	}
}

// countRecords counts the committed records of r, keeping their offsets in
// offs if given.
func countRecords(ctx context.Context, kc *kafka.Client, r kafka.PartitionRange, offs *[]int64) (int64, error) {
	if r.End <= r.Start {
		return 0, nil
	}
	rd, err := kafka.NewReader(ctx, kc.Config())
	if err != nil {
		return 0, err
	}
	defer rd.Close()
	var n int64
	err = rd.Read(ctx, r, func(batch []*record.Record) error {
		n += int64(len(batch))
		if offs != nil {
			for _, rec := range batch {
				*offs = append(*offs, rec.Offset)
			}
		}
		return nil
	})
	return n, err
}

// observe notes the source end offset seen now, for lag in seconds.
func (p *migratedPart) observe(end int64, now time.Time) {
	if n := len(p.samples); n == 0 || end > p.samples[n-1].end {
		p.samples = append(p.samples, endSample{end: end, at: now})
	}
	if len(p.samples) > maxSamples { // thin out, keeping the oldest
		kept := p.samples[:1]
		for i := 2; i < len(p.samples); i += 2 {
			kept = append(kept, p.samples[i])
		}
		p.samples = kept
	}
}

// lagSeconds is the time since the record at next was first seen on the source.
func (p *migratedPart) lagSeconds(next int64, now time.Time) float64 {
	i := 0
	for i < len(p.samples) && p.samples[i].end <= next {
		i++
	}
	p.samples = p.samples[i:]
	if len(p.samples) == 0 {
		return 0
	}
	return now.Sub(p.samples[0].at).Seconds()
}

// measure reads the source end offsets and the import's progress, sets the lag
// of every partition and reports whether the mode's goal is reached: every
// partition caught up with the ends captured at the start (one-shot) or with
// the current ends.
func (mg *migration) measure(ctx context.Context) (bool, error) {
	topics, err := mg.selectTopics(ctx)
	if err != nil {
		return false, err
	}
	if len(topics) == 0 {
		return false, nil
	}
	ranges, err := mg.src.Ranges(ctx, topics)
	if err != nil {
		return false, fmt.Errorf("source: %w", err)
	}
	exported, err := mg.src.CommittedOffsets(ctx, mg.o.Export.Group, topics)
	if err != nil {
		return false, fmt.Errorf("source: %w", err)
	}
	mg.mu.Lock()
	targets := make([]string, 0, len(topics))
	for _, t := range topics {
		targets = append(targets, mg.targetOf[t])
	}
	targetOf := mg.targetOf
	mg.mu.Unlock()
	progress, err := mg.dst.CommittedOffsets(ctx, mg.o.Import.Group, targets)
	if err != nil {
		return false, fmt.Errorf("target: %w", err)
	}
	goal := map[partKey]int64{}
	for _, r := range mg.captured {
		goal[partKey{r.Topic, r.Partition}] = r.End
	}
	now := time.Now()
	caughtUp := true
	for _, r := range ranges {
		mg.mu.Lock()
		p := mg.part(r.Topic, r.Partition)
		mg.mu.Unlock()
		next, ok := progress[targetOf[r.Topic]][r.Partition]
		if !ok {
			next = r.Start
		}
		if e, ok := exported[r.Topic][r.Partition]; ok && e < r.Start && p.gapReported != r.Start {
			p.gapReported = r.Start
			mg.log.Warn("retention deleted records on the source before they were migrated", "topic", r.Topic, "partition", r.Partition, "lost_from", e, "lost_to", r.Start-1)
		}
		stable := next == p.prevNext && r.End == p.prevEnd
		if next != p.prevNext {
			p.emptyUpTo = nil
		}
		p.prevNext, p.prevEnd = next, r.End
		p.observe(r.End, now)
		lag, err := mg.behind(ctx, p, r, next, r.End, stable)
		if err != nil {
			return false, err
		}
		seconds := 0.0
		if lag > 0 {
			seconds = p.lagSeconds(next, now)
		}
		mg.mu.Lock()
		p.next, p.lag, p.seconds = next, lag, seconds
		mg.mu.Unlock()
		mg.m.Lag(r.Topic, r.Partition, lag, seconds)
		target := r.End
		if mg.o.Mode == Once {
			target = goal[partKey{r.Topic, r.Partition}] // 0 for a partition added since: not waited for
		}
		goalLag := lag
		if target != r.End {
			if goalLag, err = mg.behind(ctx, p, r, next, target, stable); err != nil {
				return false, err
			}
		}
		mg.mu.Lock()
		p.goalLag = goalLag
		mg.mu.Unlock()
		caughtUp = caughtUp && goalLag == 0
	}
	return caughtUp, nil
}

// behind is how many offsets of [next, end) are not on the target; 0 also when
// they hold no records (transaction markers, compaction), which is checked
// once the partition stood still for a measure.
func (mg *migration) behind(ctx context.Context, p *migratedPart, r kafka.PartitionRange, next, end int64, stable bool) (int64, error) {
	if next >= end || p.emptyUpTo[end] {
		return 0, nil
	}
	if !stable {
		return end - next, nil
	}
	held, err := pipeline.FirstHoldingRecords(ctx, mg.src, []kafka.PartitionRange{{Topic: r.Topic, Partition: r.Partition, Start: next, End: end}})
	if err != nil {
		return 0, fmt.Errorf("source: %w", err)
	}
	if held != nil {
		return end - next, nil
	}
	if p.emptyUpTo == nil {
		p.emptyUpTo = map[int64]bool{}
	}
	p.emptyUpTo[end] = true
	return 0, nil
}

// lagLine sums the lag up in a few words.
func (mg *migration) lagLine() string {
	mg.mu.Lock()
	defer mg.mu.Unlock()
	var records int64
	var behind int
	var oldest float64
	for _, p := range mg.parts {
		if p.lag > 0 {
			records += p.lag
			behind++
			oldest = max(oldest, p.seconds)
		}
	}
	if behind == 0 {
		return "lag 0: the target has every record"
	}
	return fmt.Sprintf("%d records behind on %d partitions, oldest first seen %.0fs ago", records, behind, oldest)
}

// leftLine says what a migration that stopped early left to do: the offsets
// before its goal (the ends captured at the start, or the current ones) that
// are not on the target, per partition (the ten largest).
func (mg *migration) leftLine() string {
	mg.mu.Lock()
	defer mg.mu.Unlock()
	type row struct {
		k partKey
		n int64
	}
	var rows []row
	var total int64
	for k, p := range mg.parts {
		if p.goalLag > 0 {
			rows = append(rows, row{k, p.goalLag})
			total += p.goalLag
		}
	}
	if len(rows) == 0 {
		return "only offsets without records (transaction markers) may be left, which a rerun confirms"
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].n > rows[j].n })
	var parts []string
	for i, r := range rows {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(rows)-10))
			break
		}
		parts = append(parts, fmt.Sprintf("%s/%d:%d", r.k.topic, r.k.partition, r.n))
	}
	return fmt.Sprintf("%d offsets on %d partitions are not on the target yet (%s)", total, len(rows), strings.Join(parts, " "))
}

// report logs the lag: totals, and the partitions behind (all of them at the
// end, the ten worst otherwise).
func (mg *migration) report(final bool) {
	mg.mu.Lock()
	type row struct {
		k partKey
		p migratedPart
	}
	var rows []row
	for k, p := range mg.parts {
		if p.lag > 0 {
			rows = append(rows, row{k, *p})
		}
	}
	mg.mu.Unlock()
	sort.Slice(rows, func(i, j int) bool { return rows[i].p.lag > rows[j].p.lag })
	if !final && len(rows) > 10 {
		rows = rows[:10]
	}
	var parts []string
	for _, r := range rows {
		parts = append(parts, fmt.Sprintf("%s/%d:%d(%.0fs)", r.k.topic, r.k.partition, r.p.lag, r.p.seconds))
	}
	mg.log.Info("migrate lag", "summary", mg.lagLine(), "behind", strings.Join(parts, " "))
}
