package pipeline

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/pkg/manifest"
)

// PartitionSummary is what moved for one partition.
type PartitionSummary struct {
	Partition   int32 `json:"partition"`
	Records     int64 `json:"records"`
	Bytes       int64 `json:"bytes"`
	Objects     int   `json:"objects"`
	FirstOffset int64 `json:"first_offset"`
	LastOffset  int64 `json:"last_offset"`
	// Gaps are offsets that retention removed before they were read: those a
	// backup found (recorded in its manifest), those a restore cannot write.
	Gaps []manifest.Gap `json:"gaps,omitempty"`
}

// TopicSummary is what moved for one topic.
type TopicSummary struct {
	Topic      string             `json:"topic"`
	Target     string             `json:"target,omitempty"`
	Records    int64              `json:"records"`
	Bytes      int64              `json:"bytes"`
	Objects    int                `json:"objects"`
	Partitions []PartitionSummary `json:"partitions"`
}

// Summary is the result of a run, printed at the end and written by --report.
type Summary struct {
	Command  string         `json:"command"`
	Bucket   string         `json:"bucket"`
	Started  time.Time      `json:"started"`
	Seconds  float64        `json:"seconds"`
	Records  int64          `json:"records"`
	Bytes    int64          `json:"bytes"`
	Objects  int            `json:"objects"`
	MBPerSec float64        `json:"mb_per_sec"`
	Topics   []TopicSummary `json:"topics"`
	Warnings []string       `json:"warnings,omitempty"`
	// Plan is what a --dry-run would have done (nil after a real run).
	Plan *plan.Plan `json:"plan,omitempty"`
}

// Progress receives counts as records move; nil means nobody listens.
type Progress interface {
	Add(records, bytes int64)
}

// ProgressTotal is implemented by a Progress that shows how much is left. A
// command calls SetTotal once, before the first Add, when it knows how much
// it will move: backup and export from the captured offset ranges (transaction
// markers included, so the count may stop short of it), restore from the
// manifest's record counts.
type ProgressTotal interface {
	SetTotal(records int64)
}

// PartitionProgress is implemented by a Progress that shows the partitions
// with the most left to read. Export and backup tell it where each partition
// they read stands: done of total offsets; done == total when it is finished.
type PartitionProgress interface {
	Partition(topic string, partition int32, done, total int64)
}

// SetTotal tells p the total when it listens for one.
func SetTotal(p Progress, records int64) {
	if t, ok := p.(ProgressTotal); ok {
		t.SetTotal(records)
	}
}

// Collector gathers per-partition results from concurrent workers.
type Collector struct {
	mu       sync.Mutex
	parts    map[string]map[int32]*PartitionSummary
	targets  map[string]string
	warnings []string
}

func NewCollector() *Collector {
	return &Collector{parts: map[string]map[int32]*PartitionSummary{}, targets: map[string]string{}}
}

func (c *Collector) Partition(topic string, p int32) *PartitionSummary {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.parts[topic]
	if m == nil {
		m = map[int32]*PartitionSummary{}
		c.parts[topic] = m
	}
	ps := m[p]
	if ps == nil {
		ps = &PartitionSummary{Partition: p, FirstOffset: -1, LastOffset: -1}
		m[p] = ps
	}
	return ps
}

func (c *Collector) Update(topic string, p int32, fn func(*PartitionSummary)) {
	ps := c.Partition(topic, p)
	c.mu.Lock()
	defer c.mu.Unlock()
	fn(ps)
}

func (c *Collector) Warn(msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warnings = append(c.warnings, msg)
}

func (c *Collector) Summary(command, bucket string, started time.Time) Summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Summary{Command: command, Bucket: bucket, Started: started, Warnings: c.warnings}
	s.Seconds = time.Since(started).Seconds()
	for topic, m := range c.parts {
		ts := TopicSummary{Topic: topic, Target: c.targets[topic]}
		for _, ps := range m {
			ts.Records += ps.Records
			ts.Bytes += ps.Bytes
			ts.Objects += ps.Objects
			ts.Partitions = append(ts.Partitions, *ps)
		}
		sort.Slice(ts.Partitions, func(i, j int) bool { return ts.Partitions[i].Partition < ts.Partitions[j].Partition })
		s.Records += ts.Records
		s.Bytes += ts.Bytes
		s.Objects += ts.Objects
		s.Topics = append(s.Topics, ts)
	}
	sort.Slice(s.Topics, func(i, j int) bool { return s.Topics[i].Topic < s.Topics[j].Topic })
	if s.Seconds > 0 {
		s.MBPerSec = float64(s.Bytes) / 1e6 / s.Seconds
	}
	return s
}

// Add sums another run's counts into s.
func (s *Summary) Add(o Summary) {
	s.Records += o.Records
	s.Bytes += o.Bytes
	s.Objects += o.Objects
	s.Warnings = append(s.Warnings, o.Warnings...)
	for _, t := range o.Topics {
		i := slices.IndexFunc(s.Topics, func(x TopicSummary) bool { return x.Topic == t.Topic })
		if i < 0 {
			s.Topics = append(s.Topics, t)
			continue
		}
		s.Topics[i].Records += t.Records
		s.Topics[i].Bytes += t.Bytes
		s.Topics[i].Objects += t.Objects
	}
}

func (s *Summary) Finish() {
	s.Seconds = time.Since(s.Started).Seconds()
	if s.Seconds > 0 {
		s.MBPerSec = float64(s.Bytes) / 1e6 / s.Seconds
	}
}

// Warnings returns the warnings noted so far.
func (c *Collector) Warnings() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.warnings)
}

// Target notes that topic is written to target (the summary reports it).
func (c *Collector) Target(topic, target string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.targets[topic] = target
}
