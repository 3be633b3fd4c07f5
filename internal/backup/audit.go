package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/seal"
	"github.com/kferry/kferry/pkg/store"
)

// UnlistedKind says what an object that no manifest lists is, and so whether
// prune may delete it.
type UnlistedKind string

const (
	// UnlistedBackupObject is a native object under the backup's topics folder
	// (also a lineage folder): left by an interrupted backup, or by one whose
	// manifest was deleted. Prune deletes it.
	UnlistedBackupObject UnlistedKind = "backup-object"
	// UnlistedTempFile is the temporary file of an interrupted write of such an
	// object to a local folder. Prune deletes it.
	UnlistedTempFile UnlistedKind = "temporary-file"
	// UnlistedSchemas is the stored schemas of a backup whose manifest is
	// missing (SchemasKey): left by a backup interrupted between the two, or
	// whose manifest was deleted. Prune deletes it.
	UnlistedSchemas UnlistedKind = "schemas"
	// UnlistedOther is anything else: not a kferry backup's object. Prune never
	// deletes it.
	UnlistedOther UnlistedKind = "other"
)

// UnlistedObject is an object of a backup bucket that no manifest lists.
type UnlistedObject struct {
	Key     string       `json:"key"`
	Size    int64        `json:"size"`
	ModTime time.Time    `json:"mod_time"`
	Kind    UnlistedKind `json:"kind"`
	// Topic is the topic a backup object or temporary file belongs to.
	Topic string `json:"topic,omitempty"`
}

// String says what the object is and what to do about it.
func (u UnlistedObject) String() string {
	switch u.Kind {
	case UnlistedBackupObject:
		return fmt.Sprintf("object %s (%d bytes) is in no manifest: left by an interrupted backup, or its manifest was deleted (kferry prune removes it)", u.Key, u.Size)
	case UnlistedTempFile:
		return fmt.Sprintf("temporary file %s (%d bytes) of an interrupted write is in no manifest (kferry prune removes it)", u.Key, u.Size)
	case UnlistedSchemas:
		return fmt.Sprintf("stored schemas %s (%d bytes) belong to no manifest: left by an interrupted backup, or its manifest was deleted (kferry prune removes them)", u.Key, u.Size)
	}
	return fmt.Sprintf("object %s (%d bytes) is in no manifest and not a backup object (kferry prune leaves it alone)", u.Key, u.Size)
}

// BucketAudit is what a whole bucket holds next to its backups' manifests.
type BucketAudit struct {
	// Manifests are the ids of every manifest, sorted.
	Manifests []string
	// Unlisted are the objects (manifests aside) that no manifest lists, by key.
	Unlisted []UnlistedObject
	// ExportTopics are the topics that kferry export wrote metadata for
	// (_kferry/topics/<topic>.json): their objects may be an export's.
	ExportTopics map[string]bool
}

// AuditBucket lists the whole bucket and finds the objects that no manifest
// lists. Manifests are read (decrypted with key) newest first and only while
// some object is not known to be listed yet: each manifest lists every object
// of its backup, so one or two settle a healthy bucket however many backups it
// holds, and every manifest is read before an object is called unlisted. A
// manifest that has to be read and cannot be is an error.
func AuditBucket(ctx context.Context, b *blob.Bucket, key *seal.Key) (*BucketAudit, error) {
	return audit(ctx, b, func(id string) (*manifest.Manifest, error) { return catalog.LoadManifest(ctx, b, id, key) })
}

// AuditWith is AuditBucket for a caller that has read every manifest of the
// bucket already.
func AuditWith(ctx context.Context, b *blob.Bucket, ms []*manifest.Manifest) (*BucketAudit, error) {
	byID := map[string]*manifest.Manifest{}
	for _, m := range ms {
		byID[m.ID] = m
	}
	return audit(ctx, b, func(id string) (*manifest.Manifest, error) {
		if m := byID[id]; m != nil {
			return m, nil
		}
		return nil, fmt.Errorf("%w %s: appeared while the bucket was read; run again", manifest.ErrNoBackup, id)
	})
}

func audit(ctx context.Context, b *blob.Bucket, load func(id string) (*manifest.Manifest, error)) (*BucketAudit, error) {
	a, err := listBucket(ctx, b)
	if err != nil {
		return nil, err
	}
	pending := map[string]bool{}
	for _, u := range a.Unlisted {
		pending[u.Key] = true
	}
	for i := len(a.Manifests) - 1; i >= 0 && len(pending) > 0; i-- {
		m, err := load(a.Manifests[i])
		if err != nil {
			return nil, err
		}
		for _, k := range manifestKeys(m) {
			delete(pending, k)
		}
	}
	a.Unlisted = slices.DeleteFunc(a.Unlisted, func(u UnlistedObject) bool { return !pending[u.Key] })
	return a, nil
}

// listBucket lists every key: manifests into Manifests, every other object
// into Unlisted (not yet checked against the manifests), classified.
func listBucket(ctx context.Context, b *blob.Bucket) (*BucketAudit, error) {
	a := &BucketAudit{ExportTopics: map[string]bool{}}
	it := store.List(b, nil)
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list the bucket: %w", err)
		}
		if obj.IsDir {
			continue
		}
		if id, ok := manifest.IDFromKey(obj.Key); ok {
			a.Manifests = append(a.Manifests, id)
			continue
		}
		if t, ok := strings.CutPrefix(obj.Key, catalog.MetaPrefix); ok && strings.HasSuffix(t, ".json") {
			a.ExportTopics[strings.TrimSuffix(t, ".json")] = true
		}
		u := UnlistedObject{Key: obj.Key, Size: obj.Size, ModTime: obj.ModTime, Kind: UnlistedOther}
		if topic, ok := backupObjectTopic(obj.Key); ok {
			u.Kind, u.Topic = UnlistedBackupObject, topic
		} else if base := catalog.TempFile.ReplaceAllString(obj.Key, ""); base != obj.Key {
			if topic, ok := backupObjectTopic(base); ok {
				u.Kind, u.Topic = UnlistedTempFile, topic
			}
		}
		a.Unlisted = append(a.Unlisted, u)
	}
	sort.Strings(a.Manifests)
	// A backup's stored schemas are listed by its manifest's existence.
	a.Unlisted = slices.DeleteFunc(a.Unlisted, func(u UnlistedObject) bool {
		id, ok := schemasID(u.Key)
		return ok && slices.Contains(a.Manifests, id)
	})
	for i, u := range a.Unlisted {
		if _, ok := schemasID(u.Key); ok {
			a.Unlisted[i].Kind = UnlistedSchemas
		}
	}
	sort.Slice(a.Unlisted, func(i, j int) bool { return a.Unlisted[i].Key < a.Unlisted[j].Key })
	return a, nil
}

// schemasID is the backup id of a SchemasKey.
func schemasID(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "_kferry/schemas/")
	if !ok || !strings.HasSuffix(rest, ".json") {
		return "", false
	}
	id := strings.TrimSuffix(rest, ".json")
	return id, SchemasKey(id) == key && id != ""
}

// backupObjectTopic reports whether key names a native object as backup writes
// them, under the topics folder or one of its lineage folders, and its topic.
func backupObjectTopic(key string) (string, bool) {
	dir := layout.DefaultTopicsDir
	rest, ok := strings.CutPrefix(key, dir+"/lineage=")
	if ok {
		l, _, found := strings.Cut(rest, "/")
		n, err := strconv.Atoi(l)
		if !found || err != nil || n <= 0 || strconv.Itoa(n) != l {
			return "", false
		}
		dir = lineageDir(dir, n)
	}
	obj, err := layout.Parse(key, dir)
	if err != nil || obj.Ext != ".kfr" || obj.View != layout.ViewValues || obj.Gzip {
		return "", false
	}
	return obj.Topic, true
}

// manifestKeys returns the keys of every object m lists.
func manifestKeys(m *manifest.Manifest) []string {
	var keys []string
	for _, t := range m.Topics {
		for _, p := range t.Partition {
			for _, o := range p.Objects {
				keys = append(keys, o.Key)
			}
		}
	}
	return keys
}
