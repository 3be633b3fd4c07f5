package e2e

import (
	"strings"
	"testing"
	"time"
)

// Tests of issue 16.11: what kferry says when it is called wrongly, stopped, or
// finds something missing.

// TestVerifyMissingLiveTopic: verify --brokers against a cluster that lacks a
// backed-up topic names the topic and what to do, says no "ok", and does not
// wait for retries of an unknown topic.
func TestVerifyMissingLiveTopic(t *testing.T) {
	t.Parallel()
	c, brokers := newCluster(t, map[string]int32{"t": 1})
	produce(t, c, "t", 0, 5)
	bucket, _ := fileURL(t)
	mustSucceed(t, kferry(t, runOpts{}, "backup", "--brokers", brokers, "--to", bucket))
	_, otherBrokers := newCluster(t, nil)
	r := kferry(t, runOpts{}, "verify", bucket, "--brokers", otherBrokers)
	wantError(t, r, 1, "topic t is not on the cluster", "restore it first", "--rename")
	r = kferry(t, runOpts{}, "verify", bucket, "--brokers", brokers, "--rename", "t=restored-t")
	wantError(t, r, 1, "topic restored-t (--rename of t) is not on the cluster")
	if strings.Contains(r.stdout, "ok") || strings.Contains(r.stderr, "UNKNOWN_TOPIC") {
		t.Errorf("verify says ok or a raw Kafka error:\n%s", r)
	}
	if r.elapsed > 5*time.Second {
		t.Errorf("verify took %s to find the topic missing", r.elapsed)
	}
}

// TestTargetNotEmptyNamesOffsets: a target that holds records is described by
// their offsets, not by a count that includes transaction markers (a restore
// wrote this one: 50 records and a marker per object).
func TestTargetNotEmptyNamesOffsets(t *testing.T) {
	t.Parallel()
	c, brokers := newCluster(t, map[string]int32{"t": 1})
	produce(t, c, "t", 0, 50)
	backups, _ := fileURL(t)
	exported, _ := fileURL(t)
	mustSucceed(t, kferry(t, runOpts{}, "backup", "--brokers", brokers, "--to", backups, "--flush-size", "10"))
	mustSucceed(t, kferry(t, runOpts{}, "restore", "--brokers", brokers, "--from", backups, "--rename", "t=t2"))
	mustSucceed(t, kferry(t, runOpts{}, "export", "--brokers", brokers, "--topics", "t", "--to", exported))
	r := kferry(t, runOpts{}, "import", "--brokers", brokers, "--from", exported, "--rename", "t=t2")
	wantError(t, r, 1, "t2 partition 0 already holds records at offsets 0–54", "--append")
}
