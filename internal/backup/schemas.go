package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/kferry/kferry/internal/kafka/schemareg"
	"github.com/kferry/kferry/pkg/format/avrofmt"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
	"github.com/kferry/kferry/pkg/store"
)

// SchemasKey is where backup id keeps the schemas of its records' schema ids
// (and of the backups before it): a restore into a cluster whose registry
// has never seen them reads them there.
func SchemasKey(id string) string { return "_kferry/schemas/" + id + ".json" }

// schemasFile is the JSON of SchemasKey. Complete says it covers every
// backup of the chain: false once a backup before it stored none (made
// without --schema-registry), whose records' ids are then unknown.
type schemasFile struct {
	Complete bool             `json:"complete"`
	Schemas  schemareg.Stored `json:"schemas"`
}

// maxSchemaIDs bounds the ids a backup collects: values that only start like
// the wire format (a big-endian long, say) could otherwise grow the set
// without end.
const maxSchemaIDs = 10000

// schemaIDs collects the schema ids of wire-format keys and values.
type schemaIDs struct {
	mu       sync.Mutex
	ids      map[int]struct{}
	overflow bool
}

func (s *schemaIDs) add(rec *record.Record) {
	for _, b := range [][]byte{rec.Key, rec.Value} {
		w, err := avrofmt.ParseWire(b)
		if err != nil || w.ID == 0 {
			continue // registries never issue id 0: a big-endian number, not the wire format
		}
		s.mu.Lock()
		if _, ok := s.ids[w.ID]; !ok {
			if len(s.ids) < maxSchemaIDs {
				s.ids[w.ID] = struct{}{}
			} else {
				s.overflow = true
			}
		}
		s.mu.Unlock()
	}
}

// storeSchemas writes the schemas of the ids the run met, and those the
// previous backup stored, before the manifest that makes the backup visible.
// Ids the registry does not know (bytes that only start like the wire format,
// or deleted schemas) are left out with a warning.
func (br *backupRun) storeSchemas(ctx context.Context) error {
	if br.o.Registry == nil {
		return nil
	}
	stored, complete := schemareg.Stored{}, true
	if br.prev != nil {
		prev, prevComplete, err := LoadManifestSchemas(ctx, br.b, br.prev, br.o.Key)
		if err != nil {
			// A missing or changed file must not stop the chain's backups:
			// this one stores its own records' schemas, marked incomplete.
			msg := fmt.Sprintf("the schemas backup %s stored cannot be read (%v): this backup's stored schemas cover only its own records, and restoring the chain will need --source-schema-registry", br.prev.ID, err)
			br.col.Warn(msg)
			br.log.Warn(msg)
			prev, prevComplete = schemareg.Stored{}, false
		}
		maps.Copy(stored, prev)
		if complete = prev != nil && prevComplete; !complete && err == nil {
			msg := fmt.Sprintf("backup %s (or one before it) stored no schemas (made without --schema-registry): this backup's stored schemas cover only its own records, and restoring the chain will need --source-schema-registry; back up into a new bucket or prefix for a chain restore can translate alone", br.prev.ID)
			br.col.Warn(msg)
			br.log.Warn(msg)
		}
	}
	if br.ids.overflow {
		br.col.Warn(fmt.Sprintf("more than %d distinct schema ids in the records: only the first %d were looked up", maxSchemaIDs, maxSchemaIDs))
	}
	var unknown []int
	for _, id := range slices.Sorted(maps.Keys(br.ids.ids)) {
		if _, ok := stored[id]; ok {
			continue
		}
		s, err := br.o.Registry.SchemaByID(ctx, id)
		if err == nil {
			err = storeRefs(ctx, br.o.Registry, stored, &s, 0)
		}
		if errors.Is(err, schemareg.ErrUnknownSchema) {
			unknown = append(unknown, id) // the id, or a schema it references
			continue
		}
		if err != nil {
			return fmt.Errorf("store the schemas of the backup: schema id %d: %w; no manifest was written: rerun the backup when the registry answers", id, err)
		}
		stored[id] = s
	}
	if len(unknown) > 0 {
		msg := fmt.Sprintf("%d schema ids in the records are unknown to the registry (first: %d): values or keys that only start like the wire format, or deleted schemas; a restore cannot translate them", len(unknown), unknown[0])
		br.col.Warn(msg)
		br.log.Warn(msg)
	}
	body, err := json.Marshal(schemasFile{Complete: complete, Schemas: stored})
	if err != nil {
		return err
	}
	if br.o.Key != nil {
		var sealed bytes.Buffer
		w, err := br.o.Key.Seal(&sealed)
		if err == nil {
			_, err = w.Write(body)
		}
		if err == nil {
			err = w.Close()
		}
		if err != nil {
			return fmt.Errorf("seal %s: %w", SchemasKey(br.m.ID), err)
		}
		body = sealed.Bytes()
	}
	if err := store.WriteAll(ctx, br.b, SchemasKey(br.m.ID), body, nil); err != nil {
		return fmt.Errorf("write %s: %w", SchemasKey(br.m.ID), err)
	}
	sum := sha256.Sum256(body)
	br.m.Schemas = &manifest.SchemasFile{Key: SchemasKey(br.m.ID), SHA256: hex.EncodeToString(sum[:]), Schemas: len(stored)}
	br.log.Info("schemas stored", "key", SchemasKey(br.m.ID), "schemas", len(stored))
	return nil
}

// storeRefs stores the schemas s references (and theirs), noting each
// reference's id so that a restore resolves it from the stored set.
func storeRefs(ctx context.Context, reg schemareg.Source, stored schemareg.Stored, s *avrofmt.Schema, depth int) error {
	if len(s.References) == 0 {
		return nil
	}
	rs, ok := reg.(schemareg.RefSource)
	if !ok {
		return errors.New("schema references, which this registry cannot resolve")
	}
	if depth > 32 {
		return errors.New("schema references nest deeper than 32")
	}
	refs := slices.Clone(s.References)
	for i, ref := range refs {
		rschema, id, err := rs.SchemaByReference(ctx, ref)
		if err != nil {
			return err
		}
		if err := storeRefs(ctx, reg, stored, &rschema, depth+1); err != nil {
			return err
		}
		stored[id], refs[i].ID = rschema, id
	}
	s.References = refs
	return nil
}

// ErrSchemasChecksum means a schemas file is not the one its manifest names.
var ErrSchemasChecksum = errors.New("the schemas file does not match the checksum in its manifest")

// LoadManifestSchemas is LoadSchemas for the backup of manifest m: the file
// its manifest names must be there and match the manifest's checksum
// (manifests older than the checksum are read as LoadSchemas reads).
func LoadManifestSchemas(ctx context.Context, b *blob.Bucket, m *manifest.Manifest, key *seal.Key) (schemareg.Stored, bool, error) {
	if m.Schemas == nil {
		return LoadSchemas(ctx, b, m.ID, key)
	}
	raw, err := b.ReadAll(ctx, m.Schemas.Key)
	if err != nil {
		return nil, false, fmt.Errorf("read %s (named by manifest %s): %w", m.Schemas.Key, m.ID, err)
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != m.Schemas.SHA256 {
		return nil, false, fmt.Errorf("%s: %w %s", m.Schemas.Key, ErrSchemasChecksum, m.ID)
	}
	return parseSchemas(bytes.NewReader(raw), m.Schemas.Key, key)
}

// LoadSchemas reads the schemas backup id stored, and whether they cover
// every backup of its chain; nil when it stored none (made without a
// registry).
func LoadSchemas(ctx context.Context, b *blob.Bucket, id string, key *seal.Key) (schemareg.Stored, bool, error) {
	r, err := b.NewReader(ctx, SchemasKey(id), nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", SchemasKey(id), err)
	}
	defer func() { _ = r.Close() }()
	return parseSchemas(r, SchemasKey(id), key)
}

// parseSchemas reads a schemas file (sealed or not) from r.
func parseSchemas(r io.Reader, name string, key *seal.Key) (schemareg.Stored, bool, error) {
	plain, err := seal.OpenMaybe(r, key)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", name, err)
	}
	body, err := io.ReadAll(plain)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", name, err)
	}
	var f schemasFile
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, false, fmt.Errorf("read %s: %w", name, err)
	}
	return f.Schemas, f.Complete, nil
}
