package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/seal"
	"github.com/kferry/kferry/pkg/store"
)

// ErrBadObjectName is returned in strict mode for a key under the topics folder
// that is not a Confluent object name.
var ErrBadObjectName = errors.New("unparsable object name")

// ErrOtherLayout means a topic has objects in the folders of another
// partitioner than the one the bucket is read with: reading on would leave
// them behind and look complete.
var ErrOtherLayout = errors.New("objects in another partitioner's folders")

// ObjectInfo is one listed object.
type ObjectInfo struct {
	layout.Object
	Key  string
	Size int64
}

// Group is a values object and the keys and headers objects of the same start
// offset, if present.
type Group struct {
	Start   int64
	Values  ObjectInfo
	Keys    *ObjectInfo
	Headers *ObjectInfo
	// Offsets lists the offsets records of the values key (see offsetsPrefix):
	// the one naming the values object's size describes it; others are left
	// by exports that rewrote the object.
	Offsets []OffsetsRef
}

// OffsetsRecord returns the offsets record that describes the values object,
// or nil when there is none (or the records name its size with different
// last offsets, which a listing cannot tell apart).
func (g *Group) OffsetsRecord() *OffsetsRef {
	var found *OffsetsRef
	for i, r := range g.Offsets {
		if r.Size != g.Values.Size {
			continue
		}
		if found != nil && found.Last != r.Last {
			return nil
		}
		found = &g.Offsets[i]
	}
	return found
}

// PartitionObjects is every object group of one source partition, in offset order.
type PartitionObjects struct {
	Topic     string
	Partition int32
	Groups    []Group
	Bytes     int64
}

// Catalog is what a bucket holds in the Confluent layout.
type Catalog struct {
	Topics map[string]map[int32]*PartitionObjects
	Metas  map[string]TopicMeta
	// Skipped names keys under the topics folder that are not object names.
	Skipped []string
	// OtherLayout names, per topic, the first of its skipped keys that is an
	// object in another partitioner's folders than the scan's layout: data
	// the wrong --partitioner settings would leave behind.
	OtherLayout map[string]string
}

// TopicNames returns the catalog's topics, sorted.
func (c *Catalog) TopicNames() []string {
	out := make([]string, 0, len(c.Topics))
	for t := range c.Topics {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Partitions returns a topic's partitions in order.
func (c *Catalog) Partitions(topic string) []*PartitionObjects {
	var out []*PartitionObjects
	for _, p := range c.Topics[topic] {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out
}

// PartitionCount is the number of partitions the topic had at export: from the
// export's metadata when present, else one more than the highest partition seen.
func (c *Catalog) PartitionCount(topic string) int {
	n := 0
	for p := range c.Topics[topic] {
		n = max(n, int(p)+1)
	}
	if m, ok := c.Metas[topic]; ok {
		n = max(n, m.Partitions)
	}
	return n
}

// Int32Partitions is n as Kafka's partition count, or an error when it does not
// fit: counts are read from manifests and TopicMeta objects in the bucket, and a
// wrapped count would create a topic with the wrong number of partitions.
func Int32Partitions(topic string, n int) (int32, error) {
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, fmt.Errorf("topic %s: partition count %d does not fit Kafka's int32", topic, n)
	}
	return int32(n), nil
}

// Scan lists the bucket (page by page; only names and sizes are kept) and groups
// the Confluent objects under topicsDir, in the folders of layout l (nil: the
// default partitioner's), by topic and partition. Keys that do not parse are
// skipped and reported, or are an error when strict.
func Scan(ctx context.Context, b *blob.Bucket, topicsDir string, l layout.Layout, strict bool) (*Catalog, error) {
	if l == nil {
		l = layout.DefaultLayout{}
	}
	return scan(ctx, b, topicsDir, l, strict)
}

func scan(ctx context.Context, b *blob.Bucket, topicsDir string, l layout.Layout, strict bool) (*Catalog, error) {
	c := &Catalog{Topics: map[string]map[int32]*PartitionObjects{}, Metas: map[string]TopicMeta{}, OtherLayout: map[string]string{}}
	prefix := ""
	if d := strings.Trim(topicsDir, "/"); d != "" {
		prefix = d + "/"
	}
	slots := slotIndex{}
	it := store.List(b, &blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		if obj.IsDir || strings.HasPrefix(obj.Key, MetaPrefix) || strings.HasPrefix(obj.Key, OffsetsPrefix) {
			continue // with a blank topics dir, kferry's own metadata is listed too
		}
		parsed, err := layout.ParseIn(obj.Key, topicsDir, l)
		if err == nil && TempFile.MatchString(obj.Key) {
			err = fmt.Errorf("object key %q: temporary file of an interrupted write to a local folder", obj.Key)
		}
		if err != nil {
			if other, oerr := layout.ParseIn(obj.Key, topicsDir, layout.AnyLayout{}); strict && oerr == nil && other.Folder != "" {
				return nil, fmt.Errorf("%w: %s is in folders the %s does not write: give the export's --partitioner settings (and its --timezone, --locale)", ErrOtherLayout, obj.Key, l)
			}
			if strict {
				return nil, fmt.Errorf("%w: %w (drop --strict to skip it with a warning)", ErrBadObjectName, err)
			}
			c.Skipped = append(c.Skipped, obj.Key)
			if other, err := layout.ParseIn(obj.Key, topicsDir, layout.AnyLayout{}); err == nil && other.Folder != "" && !TempFile.MatchString(obj.Key) && c.OtherLayout[other.Topic] == "" {
				c.OtherLayout[other.Topic] = obj.Key
			}
			continue
		}
		if err := slots.add(&ObjectInfo{Object: parsed, Key: obj.Key, Size: obj.Size}); err != nil {
			return nil, err
		}
	}
	offsets, err := listOffsets(ctx, b, prefix)
	if err != nil {
		return nil, err
	}
	slots.fill(c, offsets)
	if err := c.readMetas(ctx, b); err != nil {
		return nil, err
	}
	return c, nil
}

// slot holds the objects listed for one start offset of a partition: the
// values object and its keys and headers sidecars.
type slot struct{ values, keys, headers *ObjectInfo }

// slotIndex holds the listed objects by topic, partition and start offset.
type slotIndex map[string]map[int32]map[int64]*slot

// add puts a listed object into its slot, refusing a second object of the
// same view there (two formats in one partition, or two exports' objects).
func (si slotIndex) add(info *ObjectInfo) error {
	parsed := info.Object
	byP := si[parsed.Topic]
	if byP == nil {
		byP = map[int32]map[int64]*slot{}
		si[parsed.Topic] = byP
	}
	byS := byP[parsed.Partition]
	if byS == nil {
		byS = map[int64]*slot{}
		byP[parsed.Partition] = byS
	}
	s := byS[parsed.StartOffset]
	if s == nil {
		s = &slot{}
		byS[parsed.StartOffset] = s
	}
	target := &s.values
	switch parsed.View {
	case layout.ViewKeys:
		target = &s.keys
	case layout.ViewHeaders:
		target = &s.headers
	}
	if *target != nil {
		if (*target).Ext != parsed.Ext {
			return fmt.Errorf("%s/%d holds objects of two formats (%s and %s, e.g. %s): give kferry export and kferry backup different buckets or prefixes", parsed.Topic, parsed.Partition, (*target).Ext, parsed.Ext, info.Key)
		}
		if (*target).Folder != parsed.Folder {
			return fmt.Errorf("two %s objects for %s/%d at offset %d in different folders: %s and %s: two exports wrote the same records with other partitioner settings (or --timestamp wallclock): keep the objects of one export, delete the other's (kferry cat shows their records)", parsed.View, parsed.Topic, parsed.Partition, parsed.StartOffset, (*target).Key, info.Key)
		}
		return fmt.Errorf("two %s objects for %s/%d at offset %d: %s and %s; remove one", parsed.View, parsed.Topic, parsed.Partition, parsed.StartOffset, (*target).Key, info.Key)
	}
	*target = info
	return nil
}

// fill adds to c, per partition, the groups of the slots that have a values
// object, in offset order, with their offsets records.
func (si slotIndex) fill(c *Catalog, offsets map[string][]OffsetsRef) {
	for topic, byP := range si {
		for p, byS := range byP {
			po := &PartitionObjects{Topic: topic, Partition: p}
			for start, s := range byS {
				if s.values == nil {
					continue // sidecars of an interrupted export; a rerun rewrites them
				}
				g := Group{Start: start, Values: *s.values, Keys: s.keys, Headers: s.headers, Offsets: offsets[s.values.Key]}
				po.Groups = append(po.Groups, g)
				po.Bytes += s.values.Size
			}
			if len(po.Groups) == 0 {
				continue
			}
			sort.Slice(po.Groups, func(i, j int) bool { return po.Groups[i].Start < po.Groups[j].Start })
			if c.Topics[topic] == nil {
				c.Topics[topic] = map[int32]*PartitionObjects{}
			}
			c.Topics[topic][p] = po
		}
	}
}

// listOffsets lists the offsets records of the objects under prefix, by values key.
func listOffsets(ctx context.Context, b *blob.Bucket, prefix string) (map[string][]OffsetsRef, error) {
	out := map[string][]OffsetsRef{}
	it := store.List(b, &blob.ListOptions{Prefix: OffsetsPrefix + prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", OffsetsPrefix+prefix, err)
		}
		if obj.IsDir || TempFile.MatchString(obj.Key) {
			continue
		}
		if ref, ok := ParseOffsetsKey(obj.Key); ok {
			out[ref.Object] = append(out[ref.Object], ref)
		}
	}
}

// TempFile matches the temporary files fileblob writes next to an object's final
// name ("<key>.<hex time>.tmp") and leaves behind when the process is killed; they
// parse as objects with an odd extension, so they must be skipped explicitly.
var TempFile = regexp.MustCompile(`\.[0-9a-f]+\.tmp$`)

// MetaPrefix is the folder of the TopicMeta objects (see TopicMetaKey).
const MetaPrefix = "_kferry/topics/"

func (c *Catalog) readMetas(ctx context.Context, b *blob.Bucket) error {
	it := store.List(b, &blob.ListOptions{Prefix: MetaPrefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", MetaPrefix, err)
		}
		body, err := b.ReadAll(ctx, obj.Key)
		if err != nil {
			return fmt.Errorf("read %s: %w", obj.Key, err)
		}
		var m TopicMeta
		if err := json.Unmarshal(body, &m); err != nil {
			return fmt.Errorf("read %s: %w", obj.Key, err)
		}
		c.Metas[m.Topic] = m
	}
}

// TopicMeta is written to _kferry/topics/<topic>.json by export so that import can
// recreate a topic with its partition count even when some partitions were empty.
type TopicMeta struct {
	Topic             string    `json:"topic"`
	Partitions        int       `json:"partitions"`
	ReplicationFactor int       `json:"replication_factor"`
	Format            string    `json:"format"`
	ExportedAt        time.Time `json:"exported_at"`
	// ID is the Kafka topic id (hex) the objects come from, when known: a
	// topic deleted and recreated gets another, and a continuous export
	// refuses to mix the new topic's records with the old one's.
	ID string `json:"id,omitempty"`
}

// TopicMetaKey is where export keeps a topic's metadata in the bucket.
func TopicMetaKey(topic string) string { return MetaPrefix + topic + ".json" }

// ReadTopicMeta reads the TopicMeta an export wrote for topic; nil when there
// is none.
func ReadTopicMeta(ctx context.Context, b *blob.Bucket, topic string) (*TopicMeta, error) {
	body, err := b.ReadAll(ctx, TopicMetaKey(topic))
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", TopicMetaKey(topic), err)
	}
	var m TopicMeta
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("read %s: %w", TopicMetaKey(topic), err)
	}
	return &m, nil
}

// ErrUnknownBackup means the backup id asked for has no manifest in the bucket;
// it is also manifest.ErrNoBackup.
var ErrUnknownBackup = fmt.Errorf("%w", manifest.ErrNoBackup)

// LoadManifest reads the manifest with the given id, or the newest one. An id
// without a manifest is ErrUnknownBackup ("no backup ID"); a bucket without
// any, when id is "", manifest.ErrNoBackup.
func LoadManifest(ctx context.Context, b *blob.Bucket, id string, key *seal.Key) (*manifest.Manifest, error) {
	if id == "" {
		ids, err := ListBackups(ctx, b)
		if err != nil {
			return nil, err
		}
		if id, err = manifest.Newest(ids); err != nil {
			return nil, fmt.Errorf("%w; run kferry backup first, or check the URL", err)
		}
	}
	if got, ok := manifest.IDFromKey(manifest.Key(id)); !ok || got != id {
		return nil, fmt.Errorf("%w %s", ErrUnknownBackup, id)
	}
	body, err := b.ReadAll(ctx, manifest.Key(id))
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, fmt.Errorf("%w %s", ErrUnknownBackup, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", manifest.Key(id), err)
	}
	m, err := manifest.UnmarshalSealed(body, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", manifest.Key(id), err)
	}
	return m, nil
}

// ListBackups returns the ids of every manifest in the bucket, sorted.
func ListBackups(ctx context.Context, b *blob.Bucket) ([]string, error) {
	var ids []string
	it := store.List(b, &blob.ListOptions{Prefix: manifest.Prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", manifest.Prefix, err)
		}
		if id, ok := manifest.IDFromKey(obj.Key); ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}
