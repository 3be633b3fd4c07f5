package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/seal"
)

// ErrPruneRace means the bucket's manifests changed while prune ran: a backup
// is running. Prune stops; run it again when the backup is done.
var ErrPruneRace = errors.New("a backup wrote a manifest while prune ran")

// DefaultPruneMinAge is how old an object must be before prune deletes it: a
// backup running now writes its objects long before its manifest.
const DefaultPruneMinAge = time.Hour

// PruneOptions configure Prune.
type PruneOptions struct {
	// Key decrypts the manifests of an encrypted backup.
	Key *seal.Key
	// Delete removes the candidates; without it Prune only reports them.
	Delete bool
	// MinAge keeps objects modified less than MinAge ago.
	MinAge time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// PruneReport is what Prune found and did.
type PruneReport struct {
	Manifests int `json:"manifests"`
	// Candidates are the backup objects and temporary files that no manifest
	// lists: what Prune deletes (has deleted, with Delete).
	Candidates     []UnlistedObject `json:"candidates"`
	CandidateBytes int64            `json:"candidate_bytes"`
	Deleted        int              `json:"deleted"`
	DeletedBytes   int64            `json:"deleted_bytes"`
	// Kept are the other objects no manifest lists, each with why Prune
	// leaves it alone.
	Kept []KeptObject `json:"kept,omitempty"`
}

// KeptObject is an object that no manifest lists but Prune does not delete.
type KeptObject struct {
	UnlistedObject
	Reason string `json:"reason"`
}

// Prune finds the objects of a backup bucket that no manifest lists and, with
// Delete, deletes them. It deletes only what backup writes (native objects under
// the topics folder and its lineage folders, and a local folder's temporary
// files of them), never a manifest, never an object any manifest lists, never
// one of a topic that kferry export wrote metadata for (its objects may be an
// export's), never one younger than MinAge. A bucket without manifests, or with
// one that cannot be read, is an error: then nothing is known to be unlisted.
//
// A backup running at the same time is not locked out; prune keeps it safe as
// far as it can see: its new objects are younger than MinAge, each object's age
// is checked again right before it is deleted, and a manifest written while
// prune runs stops it (ErrPruneRace) before it deletes anything or, if it
// appeared during the deletions, makes it check that the manifest lists none of
// the deleted objects.
func Prune(ctx context.Context, b *blob.Bucket, o PruneOptions) (PruneReport, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	log := pipeline.Logger(o.Logger)
	a, err := AuditBucket(ctx, b, o.Key)
	if err != nil {
		return PruneReport{}, err
	}
	if len(a.Manifests) == 0 {
		return PruneReport{}, fmt.Errorf("%w under %s: prune cleans the buckets of kferry backups only", manifest.ErrNoBackup, manifest.Prefix)
	}
	cutoff := now().Add(-o.MinAge)
	rep := PruneReport{Manifests: len(a.Manifests)}
	for _, u := range a.Unlisted {
		switch {
		case u.Kind == UnlistedOther:
			rep.Kept = append(rep.Kept, KeptObject{u, "not an object kferry backup writes"})
		case a.ExportTopics[u.Topic]:
			rep.Kept = append(rep.Kept, KeptObject{u, fmt.Sprintf("kferry export wrote into this bucket for topic %s (%s): it may be an export's object", u.Topic, catalog.TopicMetaKey(u.Topic))})
		case u.ModTime.After(cutoff):
			rep.Kept = append(rep.Kept, KeptObject{u, fmt.Sprintf("modified less than %s ago: a backup running now may be writing it", o.MinAge)})
		default:
			rep.Candidates = append(rep.Candidates, u)
			rep.CandidateBytes += u.Size
		}
	}
	if !o.Delete || len(rep.Candidates) == 0 {
		return rep, nil
	}
	if err := sameManifests(ctx, b, a.Manifests); err != nil {
		return rep, fmt.Errorf("%w; nothing was deleted", err)
	}
	var deleted []string
	for _, u := range rep.Candidates {
		gone, err := pruneObject(ctx, b, u, cutoff)
		if err != nil {
			return rep, fmt.Errorf("%w (deleted %d of %d objects before it)", err, rep.Deleted, len(rep.Candidates))
		}
		if gone {
			rep.Deleted++
			rep.DeletedBytes += u.Size
			deleted = append(deleted, u.Key)
			log.Info("deleted", "key", u.Key, "bytes", u.Size)
		}
	}
	return rep, checkDeletedUnlisted(ctx, b, a.Manifests, deleted, o.Key)
}

// pruneObject deletes u unless it changed since it was listed (then it was
// rewritten, by a backup running now) or is gone.
func pruneObject(ctx context.Context, b *blob.Bucket, u UnlistedObject, cutoff time.Time) (bool, error) {
	attrs, err := b.Attributes(ctx, u.Key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check %s: %w", u.Key, err)
	}
	if attrs.ModTime.After(cutoff) || attrs.Size != u.Size {
		return false, nil
	}
	if err := b.Delete(ctx, u.Key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return false, fmt.Errorf("delete %s: %w", u.Key, err)
	}
	return true, nil
}

// sameManifests returns ErrPruneRace when the bucket's manifests are no longer
// ids.
func sameManifests(ctx context.Context, b *blob.Bucket, ids []string) error {
	now, err := catalog.ListBackups(ctx, b)
	if err != nil {
		return err
	}
	if !slices.Equal(now, ids) {
		return fmt.Errorf("%w (it now holds %d manifests, %d when prune started): run prune again when no backup runs", ErrPruneRace, len(now), len(ids))
	}
	return nil
}

// checkDeletedUnlisted reads the manifests written since prune started and
// returns ErrPruneRace naming a deleted object one of them lists.
func checkDeletedUnlisted(ctx context.Context, b *blob.Bucket, ids, deleted []string, key *seal.Key) error {
	now, err := catalog.ListBackups(ctx, b)
	if err != nil || slices.Equal(now, ids) {
		return err
	}
	gone := map[string]bool{}
	for _, k := range deleted {
		gone[k] = true
	}
	for _, id := range now {
		if slices.Contains(ids, id) {
			continue
		}
		m, err := catalog.LoadManifest(ctx, b, id, key)
		if err != nil {
			return err
		}
		for _, k := range manifestKeys(m) {
			if gone[k] {
				return fmt.Errorf("%w: backup %s lists %s, which prune deleted: delete %s and run the backup again (it rewrites the objects after the backup before it)", ErrPruneRace, id, k, manifest.Key(id))
			}
		}
	}
	return nil
}
