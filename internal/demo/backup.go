package demo

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/store"
)

// DemoGroup is the consumer group whose offsets the backup demo carries over.
const DemoGroup = "demo-consumer"

// BackupResult is what the backup demo measured.
type BackupResult struct {
	Produced, Restored, Compared int64
	Backup, Restore              pipeline.Summary
	GroupsMatched                int
}

// RunBackup backs up source-topic-1..3 of one in-process cluster (records with
// null keys, tombstones, binary headers and a committed consumer group), restores
// the backup into a second, empty cluster, verifies it record by record and checks
// that the group resumes at the same records there.
func RunBackup(ctx context.Context, o Options) (BackupResult, error) {
	var res BackupResult
	o = o.withDefaults()
	_, bucket, cleanup, err := bucketFolder(o.Keep, "kferry-backup-demo-")
	if err != nil {
		return res, err
	}
	defer cleanup()
	source, err := kafkatest.Start(3)
	if err != nil {
		return res, err
	}
	defer source.Close()
	target, err := kafkatest.Start(3)
	if err != nil {
		return res, err
	}
	defer target.Close()
	o.say("demo --backup: source cluster %v, target cluster %v, bucket %s\n", source.ListenAddrs(), target.ListenAddrs(), bucket)

	if err := fillBackupSource(ctx, source, o, &res); err != nil {
		return res, err
	}
	src, err := kafka.Dial(ctx, source.Config())
	if err != nil {
		return res, err
	}
	defer src.Close()
	committed, err := commitDemoGroup(ctx, source.Config(), o)
	if err != nil {
		return res, err
	}

	b, err := store.Open(ctx, bucket+"?create_dir=1")
	if err != nil {
		return res, err
	}
	defer closeBucket(b)
	if err := backupSource(ctx, src, b, bucket, o, &res); err != nil {
		return res, err
	}

	dst, err := kafka.Dial(ctx, target.Config())
	if err != nil {
		return res, err
	}
	defer dst.Close()
	if err := restoreAndVerify(ctx, dst, b, bucket, o, &res); err != nil {
		return res, err
	}
	if err := checkDemoGroup(ctx, dst, committed, o, &res); err != nil {
		return res, err
	}
	if res.Restored != res.Produced || res.Compared != res.Produced {
		return res, fmt.Errorf("restored %d and compared %d of %d records", res.Restored, res.Compared, res.Produced)
	}
	return res, nil
}

// backupRecords are the backup demo's records: every 97th has a null key, a
// null value (a tombstone) or an empty value, and all carry binary headers.
func backupRecords(o Options) []record.Record {
	var recs []record.Record
	base := time.Now().Add(-48 * time.Hour).Truncate(time.Millisecond)
	for i := range o.Records {
		t := Topics[i%len(Topics)]
		rec := record.Record{
			Topic: t, Partition: partitionOf(i, o.Partitions),
			Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			Key:       []byte("key-" + strconv.Itoa(i)),
			Value:     fmt.Appendf(nil, `{"id":%d}`, i),
			Headers:   []record.Header{{Key: "bin", Value: []byte{0x00, 0xff, byte(i)}}, {Key: "bin", Value: nil}},
		}
		switch i % 97 {
		case 1:
			rec.Key = nil
		case 2:
			rec.Value = nil // tombstone
		case 3:
			rec.Value = []byte{}
		}
		recs = append(recs, rec)
	}
	return recs
}

// fillBackupSource creates the topics on the source cluster and produces the
// backup demo's records into them.
func fillBackupSource(ctx context.Context, source *kafkatest.Cluster, o Options, res *BackupResult) error {
	recs := backupRecords(o)
	for _, t := range Topics {
		if err := source.CreateTopic(ctx, t, o.Partitions); err != nil {
			return err
		}
	}
	if err := source.Produce(ctx, recs); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	res.Produced = int64(len(recs))
	return nil
}

// commitDemoGroup commits DemoGroup's offsets on the source and returns them:
// the group has read a third of every partition of source-topic-1.
func commitDemoGroup(ctx context.Context, cfg kafka.Config, o Options) (map[int32]int64, error) {
	committed := map[int32]int64{}
	var offs []kafka.GroupOffset
	perPartition := int64(o.Records) / int64(len(Topics)) / int64(o.Partitions)
	for p := range o.Partitions {
		committed[p] = perPartition / 3
		offs = append(offs, kafka.GroupOffset{Group: DemoGroup, Topic: Topics[0], Partition: p, Offset: perPartition / 3})
	}
	if err := commitOffsets(ctx, cfg, offs); err != nil {
		return nil, err
	}
	return committed, nil
}

// backupSource backs the source topics up into the bucket.
func backupSource(ctx context.Context, src *kafka.Client, b *blob.Bucket, bucket string, o Options, res *BackupResult) error {
	var err error
	res.Backup, _, err = backup.Backup(ctx, src, b, bucket, backup.BackupOptions{
		Selector: plan.Selector{Regex: regexp.MustCompile(`\Asource-topic-\d\z`)}, Naming: layout.Naming{TopicsDir: layout.DefaultTopicsDir},
		FlushSize: 5000, Version: "demo", Logger: o.Logger,
	})
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	o.say("demo --backup: backed up %d records to %d objects in %.2fs (%.1f MB/s)\n", res.Backup.Records, res.Backup.Objects, res.Backup.Seconds, res.Backup.MBPerSec)
	return nil
}

// restoreAndVerify restores the backup into the target cluster and compares
// every record there with the backup's objects.
func restoreAndVerify(ctx context.Context, dst *kafka.Client, b *blob.Bucket, bucket string, o Options, res *BackupResult) error {
	var err error
	res.Restore, err = backup.Restore(ctx, dst, b, bucket, backup.RestoreOptions{ReplicationFactor: -1, Logger: o.Logger})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	res.Restored = res.Restore.Records
	o.say("demo --backup: restored %d records exactly once (transactions) in %.2fs (%.1f MB/s)\n", res.Restore.Records, res.Restore.Seconds, res.Restore.MBPerSec)

	rep, err := backup.Verify(ctx, b, backup.VerifyOptions{Kafka: dst})
	res.Compared = rep.Compared
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	o.say("demo --backup: verified %d objects and compared %d records with the target: keys, values, headers, timestamps equal\n", rep.Objects, rep.Compared)
	return nil
}

// checkDemoGroup checks that DemoGroup has the committed offsets on the target.
func checkDemoGroup(ctx context.Context, dst *kafka.Client, committed map[int32]int64, o Options, res *BackupResult) error {
	got, err := dst.CommittedOffsets(ctx, DemoGroup, []string{Topics[0]})
	if err != nil {
		return err
	}
	for p, want := range committed {
		if got[Topics[0]][p] != want { // no gaps in this demo: translated offsets equal the source's
			return fmt.Errorf("group %s on %s/%d: offset %d on the target, want %d", DemoGroup, Topics[0], p, got[Topics[0]][p], want)
		}
		res.GroupsMatched++
	}
	o.say("demo --backup: group %s resumes at the same record on the target in all %d partitions\n", DemoGroup, res.GroupsMatched)
	return nil
}

func commitOffsets(ctx context.Context, cfg kafka.Config, offs []kafka.GroupOffset) error {
	w, err := kafka.NewTxnWriter(ctx, cfg, "", kafka.WriterOptions{})
	if err != nil {
		return err
	}
	defer w.Close()
	return w.CommitPlain(ctx, offs)
}
