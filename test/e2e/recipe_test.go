package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/pkg/record"
)

// TestRecipeEnv: the Kafka Connect recipe's environment variables stand in for
// the flags, and a flag given on the command line wins over them.
func TestRecipeEnv(t *testing.T) {
	t.Parallel()
	c, brokers := newCluster(t, map[string]int32{"source-topic-1": 3, "source-topic-2": 3, "other": 1})
	for _, topic := range []string{"source-topic-1", "source-topic-2", "other"} {
		produce(t, c, topic, 0, 4)
	}
	bucket, _ := fileURL(t)

	// SOURCE_KAFKA_BOOTSTRAP_SEVERS (sic) and SOURCE_TOPICS_LIST for export, and
	// kferry's own KFERRY_<FLAG> variables.
	r := kferry(t, runOpts{env: []string{"SOURCE_KAFKA_BOOTSTRAP_SEVERS=" + brokers, "SOURCE_TOPICS_LIST=source-topic-1,source-topic-2",
		"KFERRY_STORE_KEYS=true", "KFERRY_STORE_HEADERS=true"}},
		"export", "--to", bucket)
	mustSucceed(t, r)
	// The command line wins over the recipe's variable.
	r = kferry(t, runOpts{env: []string{"SOURCE_KAFKA_BOOTSTRAP_SEVERS=127.0.0.1:1", "SOURCE_TOPICS_LIST=no-such-topic"}},
		"export", "--brokers", brokers, "--topics", "other", "--to", bucket)
	mustSucceed(t, r)

	// SINK_KAFKA_BOOTSTRAP_SEVERS, SOURCE_TOPICS_REGEX + SINK_TOPICS_REPLACEMENT and
	// TOPIC_REGEX_LIST for import. Without the file filter, topic other would be
	// imported into itself, which holds records, and the import would fail.
	r = kferry(t, runOpts{env: []string{
		"SINK_KAFKA_BOOTSTRAP_SEVERS=" + brokers,
		"SOURCE_TOPICS_REGEX=source-topic-(\\d)",
		"SINK_TOPICS_REPLACEMENT=sink-topic-$1",
		"TOPIC_REGEX_LIST=source-topic-1:.*\\.json,source-topic-2:.*\\.json",
	}}, "import", "--from", bucket)
	mustSucceed(t, r)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for src, dst := range map[string]string{"source-topic-1": "sink-topic-1", "source-topic-2": "sink-topic-2"} {
		want, err := c.ReadAll(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.ReadAll(ctx, dst)
		if err != nil {
			t.Fatalf("read %s: %v", dst, err)
		}
		if diff := cmp.Diff(project(want), project(got)); diff != "" || len(got[0]) != 4 {
			t.Errorf("%s differs from %s (-want +got):\n%s", dst, src, diff)
		}
	}
}

// project keeps what import must carry over: per partition, in order, keys,
// values and headers.
func project(m map[int32][]record.Record) map[int32][]string {
	out := map[int32][]string{}
	for p, recs := range m {
		for _, r := range recs {
			out[p] = append(out[p], fmt.Sprintf("key=%q value=%q headers=%q", r.Key, r.Value, r.Headers))
		}
	}
	return out
}
