package plan

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Plan is what a command that moves data will do, worked out from the cluster,
// the selection and the bucket before anything is written. Every such command
// builds one and then carries out its tasks; --dry-run prints it and stops, so
// an operator sees a 10 TB restore's topics, partitions and groups first.
type Plan struct {
	Command string `json:"command"`
	// From and To say where records are read and written (redacted URLs,
	// broker lists).
	From string `json:"from"`
	To   string `json:"to"`
	// Tasks are the partitions to move, in the order they are started.
	Tasks []Task `json:"tasks"`
	// Topics are the target topics the command creates, grows or writes into.
	Topics []Topic `json:"topics,omitempty"`
	// Groups are the consumer-group offsets the command sets on the target.
	Groups []GroupOffset `json:"groups,omitempty"`
	// Notes say what the command will do beyond the tasks (mode, resume,
	// progress group), Warnings what the operator should know first.
	Notes    []string `json:"notes,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// Task is one source partition to move.
type Task struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// From and To are the source offsets [From, To) the task covers: the
	// partition's range read from Kafka, or the range the bucket's objects
	// start at (To is -1 when only the objects themselves tell).
	From int64 `json:"from"`
	To   int64 `json:"to"`
	// Objects and Bytes are what is read from the bucket (import, restore).
	Objects int   `json:"objects,omitempty"`
	Bytes   int64 `json:"bytes,omitempty"`
	// Records is known for a restore (the manifest counts them) and is the
	// offset count otherwise (transaction markers included).
	Records int64 `json:"records"`
	// Target is the topic written (import, restore, migrate); the partition
	// number stays the same.
	Target string `json:"target,omitempty"`
}

// Topic is a target topic and what happens to it.
type Topic struct {
	Name       string `json:"name"`
	Partitions int32  `json:"partitions"`
	// Action is "create", "grow" (partitions added) or "use" (exists as needed).
	Action            string            `json:"action"`
	ReplicationFactor int16             `json:"replication_factor,omitempty"`
	Configs           map[string]string `json:"configs,omitempty"`
}

// GroupOffset is a consumer group's offset to set on a target partition, in
// source offsets (the command translates it as it writes).
type GroupOffset struct {
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"source_offset"`
}

// Records is the total of the tasks' record counts.
func (p *Plan) Records() int64 {
	var n int64
	for _, t := range p.Tasks {
		n += t.Records
	}
	return n
}

// Bytes is the total of what the tasks read from the bucket.
func (p *Plan) Bytes() int64 {
	var n int64
	for _, t := range p.Tasks {
		n += t.Bytes
	}
	return n
}

// WriteTable prints the plan for people: one line per topic (its partitions
// folded), then the topics to create and the groups to set.
func (p *Plan) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	// tabwriter keeps the first write error and Flush returns it.
	pf := func(format string, a ...any) { _, _ = fmt.Fprintf(tw, format, a...) }
	pf("%s plan: %s → %s (dry run: nothing was written)\n", p.Command, p.From, p.To)
	pf("  TOPIC\tTARGET\tPARTITIONS\tRECORDS\tOBJECTS\tBYTES\tOFFSETS (partition:from-to)\n")
	for _, tt := range p.byTopic() {
		var ranges []string
		var records, bytes int64
		objects := 0
		for _, t := range tt {
			records += t.Records
			bytes += t.Bytes
			objects += t.Objects
			to := "…"
			if t.To >= 0 {
				to = fmt.Sprint(t.To)
			}
			ranges = append(ranges, fmt.Sprintf("%d:%d-%s", t.Partition, t.From, to))
		}
		target := tt[0].Target
		if target == "" {
			target = "-"
		}
		pf("  %s\t%s\t%d\t%s\t%d\t%d\t%s\n", tt[0].Topic, target, len(tt), count(records, p.unknownRecords()), objects, bytes, fold(ranges, 6))
	}
	pf("  total: %d partitions, %s records", len(p.Tasks), count(p.Records(), p.unknownRecords()))
	if n := p.objects(); n > 0 {
		pf(", %d objects (%d bytes) to read from the bucket", n, p.Bytes())
	}
	pf("\n")
	if err := tw.Flush(); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	pf = func(format string, a ...any) { _, _ = fmt.Fprintf(tw, format, a...) }
	if len(p.Topics) > 0 {
		pf("  target topics:\n")
		for _, t := range p.Topics {
			pf("    %s\t%s\t%d partitions\t%d configs\n", t.Action, t.Name, t.Partitions, len(t.Configs))
		}
	}
	if len(p.Groups) > 0 {
		groups := map[string]int{}
		for _, g := range p.Groups {
			groups[g.Group]++
		}
		names := make([]string, 0, len(groups))
		for g := range groups {
			names = append(names, g)
		}
		sort.Strings(names)
		pf("  consumer groups to set on the target (%d):\n", len(names))
		for _, g := range names {
			pf("    %s\t%d partitions\n", g, groups[g])
		}
	}
	for _, n := range p.Notes {
		pf("  note: %s\n", n)
	}
	for _, warn := range p.Warnings {
		pf("  warning: %s\n", warn)
	}
	return tw.Flush()
}

// byTopic groups the tasks by source topic, topics sorted, partitions in order.
func (p *Plan) byTopic() [][]Task {
	by := map[string][]Task{}
	for _, t := range p.Tasks {
		by[t.Topic] = append(by[t.Topic], t)
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([][]Task, 0, len(names))
	for _, n := range names {
		tt := by[n]
		sort.Slice(tt, func(i, j int) bool { return tt[i].Partition < tt[j].Partition })
		out = append(out, tt)
	}
	return out
}

func fold(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, " ")
	}
	return strings.Join(items[:n], " ") + fmt.Sprintf(" … (+%d)", len(items)-n)
}

// unknownRecords: the plan reads objects whose record counts only reading
// them tells (an import of JSON or bytes objects).
func (p *Plan) unknownRecords() bool {
	for _, t := range p.Tasks {
		if t.Objects > 0 && t.Records == 0 {
			return true
		}
	}
	return false
}

func (p *Plan) objects() int {
	n := 0
	for _, t := range p.Tasks {
		n += t.Objects
	}
	return n
}

func count(n int64, unknown bool) string {
	if unknown {
		return "?"
	}
	return fmt.Sprint(n)
}
