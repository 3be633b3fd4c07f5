package kafkatest_test

import (
	"context"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
)

// TestProduceTxnCommitLost: a transaction that ends aborted although its
// commit reported success (AbortCommits; franz-go does it by itself at
// times) is noticed from its marker and written again, so ProduceTxn's
// records are there once; an abort asked for stays aborted.
func TestProduceTxnCommitLost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := kafkatest.NewCluster(t)
	if err := c.CreateTopic(ctx, "t", 1); err != nil {
		t.Fatal(err)
	}
	c.AbortCommits("lost", 1)
	recs := []record.Record{{Topic: "t", Value: []byte("a")}, {Topic: "t", Value: []byte("b")}}
	if err := c.ProduceTxn(ctx, "lost", recs, true); err != nil {
		t.Fatal(err)
	}
	if err := c.ProduceTxn(ctx, "aborted", []record.Record{{Topic: "t", Value: []byte("x")}}, false); err != nil {
		t.Fatal(err)
	}
	got, err := c.ReadAll(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0]) != 2 || string(got[0][0].Value) != "a" || string(got[0][1].Value) != "b" {
		t.Errorf("records %+v, want a and b once", got[0])
	}
}
