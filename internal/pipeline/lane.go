package pipeline

import (
	"sync"
	"sync/atomic"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/pkg/record"
)

// DefaultLaneBytes bounds the record bytes a Lane holds for its importer.
const DefaultLaneBytes = 16 << 20

// Lane hands the records a continuous export reads to a continuous import in
// the same process (migrate), so that they reach the target without waiting
// for their object to rotate, upload and be listed. The bucket still gets
// every object: the importer's progress stays the only truth, records below
// it are skipped, and whatever the lane does not carry (dropped when full,
// not contiguous with the progress) is imported from the objects as before.
//
// Per partition the lane holds one run: records the exporter read without a
// gap, from the offset the reading continued from (from) to the offset after
// the last record or transaction marker read (next). A run is only taken
// when the importer's progress lies inside [from, next], so every record the
// source holds from the progress on is in it.
type Lane struct {
	max   int64
	ready chan struct{}

	mu    sync.Mutex
	runs  map[kafka.TopicPartition]*LaneRun
	bytes int64
	// dropped counts runs given up because the lane was full.
	dropped int64
	// missed: since the importer's last scan, records may have gone
	// uncarried (a run dropped or kept waiting, a partition taken), so a
	// completed object is worth a scan.
	missed atomic.Bool
}

// LaneRun is one partition's records in offset order, read without a gap
// from From on; Next is the offset after the last record or marker read.
type LaneRun struct {
	From, Next int64
	// Origin: the run starts with the first batch the exporter read of a
	// partition its group had no offset for, where an import with nothing
	// committed and no object listed would start too.
	Origin  bool
	Records []*record.Record
	bytes   int64
}

// NewLane returns a lane holding at most maxBytes of record bytes
// (DefaultLaneBytes when 0).
func NewLane(maxBytes int64) *Lane {
	if maxBytes <= 0 {
		maxBytes = DefaultLaneBytes
	}
	l := &Lane{max: maxBytes, ready: make(chan struct{}, 1), runs: map[kafka.TopicPartition]*LaneRun{}}
	l.missed.Store(true) // nothing carried yet: the first scan is needed
	return l
}

// Ready has a value when runs may be waiting.
func (l *Lane) Ready() <-chan struct{} { return l.ready }

// Offer adds the records of one batch the exporter has taken, read from
// offset from on (-1: unknown, then only from its first record); origin says
// it is the first batch of a partition the exporter's group had no offset
// for. A batch that does not continue the partition's run, or does not fit,
// ends that run: the records it held are imported from their objects instead.
func (l *Lane) Offer(tp kafka.TopicPartition, from int64, origin bool, b kafka.Batch) {
	if len(b.Records) > 0 && (from < 0 || from > b.Records[0].Offset) {
		from = b.Records[0].Offset
	}
	if from < 0 {
		return
	}
	var n int64
	for _, r := range b.Records {
		n += int64(r.Size())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	run := l.runs[tp]
	if run != nil && (run.Next != from || l.bytes+n > l.max) {
		l.dropLocked(tp, run)
		run = nil
		l.dropped++
		l.missed.Store(true)
	}
	if run == nil {
		if len(b.Records) == 0 {
			return
		}
		if n > l.max-l.bytes {
			l.missed.Store(true)
			return
		}
		run = &LaneRun{From: from, Next: from, Origin: origin}
		l.runs[tp] = run
	}
	run.Records = append(run.Records, b.Records...)
	run.Next = max(run.Next, b.Next)
	run.bytes += n
	l.bytes += n
	select {
	case l.ready <- struct{}{}:
	default:
	}
}

// Unsettle says records may have gone uncarried: the next completed object
// is worth a scan of the bucket.
func (l *Lane) Unsettle() { l.missed.Store(true) }

// Settled reports whether everything offered since the last scan was carried.
func (l *Lane) Settled() bool { return !l.missed.Load() }

// settle starts a scan: what goes uncarried from now on unsettles again.
func (l *Lane) settle() { l.missed.Store(false) }

// Origins lists the partitions whose run is an origin run.
func (l *Lane) Origins() []kafka.TopicPartition {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []kafka.TopicPartition
	for tp, run := range l.runs {
		if run.Origin {
			out = append(out, tp)
		}
	}
	return out
}

// Forget drops tp's run (the exporter gave the partition up).
func (l *Lane) Forget(tp kafka.TopicPartition) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if run := l.runs[tp]; run != nil {
		l.dropLocked(tp, run)
	}
}

func (l *Lane) dropLocked(tp kafka.TopicPartition, run *LaneRun) {
	l.bytes -= run.bytes
	delete(l.runs, tp)
}

// LaneVerdict is what an importer does with a waiting run.
type LaneVerdict int

const (
	// LaneKeep leaves the run to grow (the progress has not reached it yet).
	LaneKeep LaneVerdict = iota
	// LaneTake hands the run over.
	LaneTake
	// LaneDrop discards it (nothing in it is needed, or not by this copy).
	LaneDrop
)

// Take removes and returns the runs judge takes, and discards those it drops.
func (l *Lane) Take(judge func(tp kafka.TopicPartition, run *LaneRun) LaneVerdict) map[kafka.TopicPartition]*LaneRun {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[kafka.TopicPartition]*LaneRun{}
	for tp, run := range l.runs {
		switch judge(tp, run) {
		case LaneTake:
			out[tp] = run
			l.dropLocked(tp, run)
		case LaneDrop:
			l.dropLocked(tp, run)
		}
	}
	return out
}

// Held is the record bytes the lane holds now and the runs it dropped so far.
func (l *Lane) Held() (bytes, dropped int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bytes, l.dropped
}
