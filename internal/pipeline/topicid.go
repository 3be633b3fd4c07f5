package pipeline

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
)

// checkTopicIDs compares the topic ids of newly assigned partitions with the
// ids the bucket's objects come from (see noteTopicID).
func (f *follower) checkTopicIDs(parts []kafka.TopicPartition) error {
	var topics []string
	for _, tp := range parts {
		if !slices.Contains(topics, tp.Topic) {
			topics = append(topics, tp.Topic)
		}
	}
	ctx, cancel := context.WithTimeout(f.work, 30*time.Second)
	defer cancel()
	ids, err := f.kc.TopicIDs(ctx, topics)
	if err != nil {
		return fmt.Errorf("topic ids of the assigned topics: %w", err)
	}
	for _, t := range topics {
		if err := f.noteTopicID(ctx, t, ids[t]); err != nil {
			return err
		}
	}
	return nil
}

// checkOwnedTopicIDs is checkTopicIDs for the topics owned now: a topic
// deleted and recreated with as many partitions is not assigned again, and
// its fetches may only fail (unknown topic id) until the export stops.
func (f *follower) checkOwnedTopicIDs(ctx context.Context) error {
	f.mu.Lock()
	var topics []string
	for t := range f.ids {
		topics = append(topics, t)
	}
	f.mu.Unlock()
	ids, err := f.kc.TopicIDs(ctx, topics)
	if err != nil {
		return nil // measured again at the next tick
	}
	for _, t := range topics {
		if err := f.noteTopicID(ctx, t, ids[t]); err != nil {
			return err
		}
	}
	return nil
}

// noteTopicID compares topic's id now (cur; "" when unknown or the topic is
// gone) with the id the bucket's objects of it come from: this member's
// earlier assignments, or the TopicMeta of an earlier run. A topic deleted
// and recreated while it is exported starts its offsets over: its objects
// would overwrite the old topic's under the same names and leave the rest,
// and an importer (migrate's among them) would take the new records for the
// old topic's continuation. So the export stops, saying what to do, and
// nothing of the new topic is written (dispatch refuses its batches).
func (f *follower) noteTopicID(ctx context.Context, t, cur string) error {
	if cur == "" {
		return nil
	}
	f.mu.Lock()
	known := f.ids[t]
	f.mu.Unlock()
	if known == "" {
		m, err := catalog.ReadTopicMeta(ctx, f.b, t)
		if err != nil {
			return err
		}
		if m != nil {
			known = m.ID
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if known != "" && known != cur {
		f.recreated[t] = true
		return fmt.Errorf("%w: %s has topic id %s, but the bucket's objects of %s come from topic id %s, and the new topic's offsets start over; its records must not mix with the old ones: stop, delete the objects of %s from the bucket (or export into a new prefix with a new --group), and for a migration the target topic, then start again",
			ErrLineageChanged, t, cur, t, known, t)
	}
	f.ids[t] = cur
	return nil
}
