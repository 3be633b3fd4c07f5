package backup

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kferry/kferry/pkg/manifest"
)

// ErrIncomplete means a manifest does not account for a partition's offsets:
// objects are missing from it, overlap, or hold other counts than it says. Restore
// refuses such a backup before writing anything; verify reports it.
var ErrIncomplete = errors.New("backup manifest is incomplete")

// span is the offset range [from, to).
type span struct{ from, to int64 }

func (s span) String() string {
	if s.to-s.from == 1 {
		return fmt.Sprint(s.from)
	}
	return fmt.Sprintf("%d-%d", s.from, s.to-1)
}

// coverageProblems checks, from the manifest alone, that the objects of one
// partition account for its range [StartOffset, EndOffset): each object lies in
// the range and outside the recorded gaps, holds no more records than offsets,
// follows the one before without overlap, the counts add up to the partition's
// and the partition's digest is its last object's. Offsets between objects
// without records are allowed (compaction, transaction markers); when the counts
// do not add up, the offsets that no object or gap covers are named, largest
// range first. It returns one line per problem, each starting
// "topic/partition: ", and nil when all is well.
func coverageProblems(topic string, p *manifest.Partition) []string {
	var problems []string
	add := func(f string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s/%d: ", topic, p.Partition)+fmt.Sprintf(f, args...))
	}
	var covered []span
	var sum int64
	for i, o := range p.Objects {
		switch {
		case o.LastOffset < o.FirstOffset || o.Records < 1 || o.Records > o.LastOffset-o.FirstOffset+1:
			add("object %s holds %d records for offsets %d-%d", o.Key, o.Records, o.FirstOffset, o.LastOffset)
		case o.FirstOffset < p.StartOffset || o.LastOffset >= p.EndOffset:
			add("object %s (offsets %d-%d) lies outside the partition's offsets %s", o.Key, o.FirstOffset, o.LastOffset, span{p.StartOffset, p.EndOffset})
		case i > 0 && o.FirstOffset <= p.Objects[i-1].LastOffset:
			prev := p.Objects[i-1]
			add("objects %s and %s overlap at offsets %s", prev.Key, o.Key, span{o.FirstOffset, min(prev.LastOffset, o.LastOffset) + 1})
		}
		for _, g := range p.Gaps {
			if o.FirstOffset < g.To && g.From <= o.LastOffset {
				add("object %s (offsets %d-%d) lies in the recorded gap %s", o.Key, o.FirstOffset, o.LastOffset, span{g.From, g.To})
			}
		}
		sum += o.Records
		covered = append(covered, span{o.FirstOffset, o.LastOffset + 1})
	}
	for _, g := range p.Gaps {
		covered = append(covered, span{g.From, g.To})
	}
	if sum != p.Records {
		holes := uncovered(span{p.StartOffset, p.EndOffset}, covered)
		if sum < p.Records && len(holes) > 0 {
			add("offsets %s are in no object and no recorded gap: the objects hold %d records, the manifest says %d (objects are missing from the manifest)", spanList(holes, 3), sum, p.Records)
		} else {
			add("the objects hold %d records, the manifest says %d", sum, p.Records)
		}
	}
	if n := len(p.Objects); n > 0 {
		last := p.Objects[n-1]
		if p.Digest != "" && last.Digest != "" && p.Digest != last.Digest {
			add("offsets %s: objects after %s are missing from the manifest (the partition's digest is not its last object's)", span{last.LastOffset + 1, max(p.EndOffset, last.LastOffset+2)}, last.Key)
		}
	}
	return problems
}

// uncovered returns the parts of r that no span of covered overlaps, largest
// first (then by offset).
func uncovered(r span, covered []span) []span {
	sorted := append([]span(nil), covered...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].from < sorted[j].from })
	var holes []span
	next := r.from
	for _, s := range sorted {
		if s.from > next && next < r.to {
			holes = append(holes, span{next, min(s.from, r.to)})
		}
		next = max(next, s.to)
	}
	if next < r.to {
		holes = append(holes, span{next, r.to})
	}
	sort.SliceStable(holes, func(i, j int) bool { return holes[i].to-holes[i].from > holes[j].to-holes[j].from })
	return holes
}

func spanList(spans []span, n int) string {
	var parts []string
	for i, s := range spans {
		if i == n {
			parts = append(parts, fmt.Sprintf("and %d more ranges", len(spans)-n))
			break
		}
		parts = append(parts, s.String())
	}
	return strings.Join(parts, ", ")
}

// checkCoverage returns ErrIncomplete naming the first partition of the
// selected topics whose objects do not account for its offsets.
func checkCoverage(m *manifest.Manifest, topics []string) error {
	for _, name := range topics {
		t := m.Topic(name)
		if t == nil {
			continue
		}
		for i := range t.Partition {
			if problems := coverageProblems(t.Name, &t.Partition[i]); len(problems) > 0 {
				more := ""
				if len(problems) > 1 {
					more = fmt.Sprintf(" (and %d more problems)", len(problems)-1)
				}
				return fmt.Errorf("%w: backup %s: %s%s; nothing was restored (kferry verify lists every problem)", ErrIncomplete, m.ID, problems[0], more)
			}
		}
	}
	return nil
}

// GapInfo is one recorded retention gap of a backup, for reports.
type GapInfo struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	From      int64  `json:"from"`
	To        int64  `json:"to"` // exclusive
	Offsets   int64  `json:"offsets"`
	Reason    string `json:"reason,omitempty"`
}

// String says which offsets are missing and why, naming the partition.
func (g GapInfo) String() string {
	reason := ""
	if g.Reason != "" {
		reason = ": " + g.Reason
	}
	return fmt.Sprintf("%s/%d: offsets %s (%d offsets) are not in the backup%s", g.Topic, g.Partition, span{g.From, g.To}, g.Offsets, reason)
}

// manifestGaps lists the recorded gaps of the named topics (all when nil).
func manifestGaps(m *manifest.Manifest, topics []string) []GapInfo {
	var out []GapInfo
	for _, t := range m.Topics {
		if !wanted(topics, t.Name) {
			continue
		}
		for _, p := range t.Partition {
			out = append(out, partitionGaps(t.Name, &p)...)
		}
	}
	return out
}

func partitionGaps(topic string, p *manifest.Partition) []GapInfo {
	var out []GapInfo
	for _, g := range p.Gaps {
		out = append(out, GapInfo{Topic: topic, Partition: p.Partition, From: g.From, To: g.To, Offsets: g.To - g.From, Reason: g.Reason})
	}
	return out
}
