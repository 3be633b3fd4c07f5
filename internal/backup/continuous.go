package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/objset"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/pkg/manifest"
)

// Defaults of backup --follow and restore --follow.
const (
	DefaultBackupInterval  = time.Minute
	DefaultRestoreInterval = time.Minute
	// MaxFailedRounds ends a continuous backup or restore after this many
	// rounds in a row failed (each already retried its calls); an error
	// that another round cannot cure (see permanent) ends it at once.
	MaxFailedRounds = 5
)

// BackupFollowOptions configure a continuous backup (backup --follow).
type BackupFollowOptions struct {
	BackupOptions
	// Interval is the time between the starts of two backups
	// (DefaultBackupInterval when 0): the most a crash of the cluster loses.
	Interval time.Duration
	// ShutdownTimeout bounds finishing the backup in flight once ctx ends
	// (DefaultShutdownTimeout when 0).
	ShutdownTimeout time.Duration
	// AfterRound, if set, is called after every round with the manifest that
	// is the newest then (tests wait on it instead of sleeping).
	AfterRound func(round int, m *manifest.Manifest)
}

// BackupFollow backs up the selected topics again every Interval: each round is
// an incremental Backup (only records after the newest manifest are read) that
// writes a new manifest, or none when nothing changed. Every manifest is a
// complete, restorable backup, so a restore --follow elsewhere can apply them
// as they appear. Retention gaps are logged as errors and recorded in the
// manifests; the rounds go on. When ctx ends the round in flight finishes
// (within ShutdownTimeout) and BackupFollow returns the totals with a nil error.
func BackupFollow(ctx context.Context, kc *kafka.Client, b *blob.Bucket, bucketName string, o BackupFollowOptions) (pipeline.Summary, error) {
	if o.Interval <= 0 {
		o.Interval = DefaultBackupInterval
	}
	o.SkipUnchanged = true
	log := pipeline.Logger(o.Logger)
	total := pipeline.Summary{Command: "backup", Bucket: bucketName, Started: time.Now()}
	log.Info("backup --follow starting", "interval", o.Interval.String(), "selection", o.Selector.String(), "bucket", bucketName)
	err := repeat(ctx, o.Interval, o.ShutdownTimeout, log, "backup", func(work context.Context, round int) error {
		s, m, err := Backup(work, kc, b, bucketName, o.BackupOptions)
		total.Add(s)
		if errors.Is(err, ErrGaps) {
			log.Error("backup has gaps: retention removed records before they were read; raise the topic's retention or shorten --interval", "error", err.Error())
			total.Warnings = append(total.Warnings, err.Error())
			err = nil
		}
		if err == nil && o.AfterRound != nil {
			o.AfterRound(round, m)
		}
		return err
	})
	total.Finish()
	return total, err
}

// RestoreFollowOptions configure a continuous restore (restore --follow).
type RestoreFollowOptions struct {
	RestoreOptions
	// PollInterval is how often the bucket is checked for a newer backup
	// (DefaultRestoreInterval when 0).
	PollInterval    time.Duration
	ShutdownTimeout time.Duration
	// AfterRound, if set, is called after every round with the id of the
	// backup restored last ("" before the first).
	AfterRound func(round int, backupID string)
}

// RestoreFollowGroup is the progress group of restore --follow: one per bucket
// URL, selection and renames, kept across backups.
func RestoreFollowGroup(bucketURL string, sel plan.Selector, renames []string) string {
	return pipeline.GroupName("kferry-restore-follow-", bucketURL, "", sel, strings.Join(renames, "\x00"))
}

// RestoreFollow restores the newest backup of the bucket, and then every newer
// one as it appears (checked every PollInterval), into the same targets with one
// progress group (o.ProgressGroup): each restore resumes where the previous one
// ended, so every record is written once, and the consumer-group offsets of each
// backup are translated as their records are restored. Groups with consumers
// on the target are left alone. When ctx ends the restore in flight finishes
// (its transactions commit or abort) within ShutdownTimeout.
func RestoreFollow(ctx context.Context, kc *kafka.Client, b *blob.Bucket, bucketName string, o RestoreFollowOptions) (pipeline.Summary, error) {
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultRestoreInterval
	}
	if o.ProgressGroup == "" {
		return pipeline.Summary{}, errors.New("restore --follow: no progress group")
	}
	if !o.Since.IsZero() || !o.Until.IsZero() || o.BackupID != "" {
		return pipeline.Summary{}, errors.New("restore --follow restores every new backup: --since, --until and --backup do not apply")
	}
	o.SkipActiveGroups, o.AddPartitions = true, true
	log := pipeline.Logger(o.Logger)
	total := pipeline.Summary{Command: "restore", Bucket: bucketName, Started: time.Now()}
	last := ""
	log.Info("restore --follow starting", "poll_interval", o.PollInterval.String(), "progress_group", o.ProgressGroup, "bucket", bucketName)
	err := repeat(ctx, o.PollInterval, o.ShutdownTimeout, log, "restore", func(work context.Context, round int) error {
		ids, err := catalog.ListBackups(work, b)
		if err != nil {
			return err
		}
		if len(ids) > 0 && ids[len(ids)-1] != last {
			ro := o.RestoreOptions
			ro.BackupID = ids[len(ids)-1]
			s, err := Restore(work, kc, b, bucketName, ro)
			total.Add(s)
			if err != nil {
				return err
			}
			last = ro.BackupID
			log.Info("backup restored", "backup", last, "records", s.Records)
		}
		if o.AfterRound != nil {
			o.AfterRound(round, last)
		}
		return nil
	})
	total.Finish()
	return total, err
}

// repeat runs step every interval until ctx ends. A step runs on a context that
// outlives ctx by shutdown, so the step in flight when a signal arrives
// finishes; past that it is cancelled and repeat returns ErrShutdownTimeout. A
// failed step is logged and tried again at the next interval; MaxFailedRounds
// failures in a row, or one permanent failure, end repeat with the error.
func repeat(ctx context.Context, interval, shutdown time.Duration, log *slog.Logger, what string, step func(work context.Context, round int) error) error {
	if shutdown <= 0 {
		shutdown = pipeline.DefaultShutdownTimeout
	}
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var expired atomic.Bool
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(shutdown, func() { expired.Store(true); cancelWork() })
		context.AfterFunc(work, func() { t.Stop() })
	})
	defer stop()
	failed := 0
	for round := 1; ; round++ {
		started := time.Now()
		err := step(work, round)
		switch {
		case expired.Load():
			return fmt.Errorf("%w after %s: the %s in flight was abandoned (a rerun resumes it)", pipeline.ErrShutdownTimeout, shutdown, what)
		case err != nil:
			failed++
			if permanent(err) {
				return fmt.Errorf("%s stopped: %w", what, err)
			}
			if failed >= MaxFailedRounds {
				return fmt.Errorf("%s failed %d times in a row: %w", what, failed, err)
			}
			log.Error(what+" failed; trying again at the next round", "error", err.Error(), "failures_in_a_row", failed)
		default:
			failed = 0
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(max(0, interval-time.Since(started))):
		}
	}
}

// permanent reports whether err is one that trying again at the next round
// cannot cure: the operator must change something first (a source topic
// recreated under a standby, a target that does not fit the backup, an object
// that does not match its manifest).
func permanent(err error) bool {
	for _, target := range []error{pipeline.ErrLineageChanged, pipeline.ErrTargetPartitions, ErrTargetConfig, pipeline.ErrTargetNotEmpty, objset.ErrChecksum, manifest.ErrVersion} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
