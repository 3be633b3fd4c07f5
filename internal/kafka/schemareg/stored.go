package schemareg

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/kferry/kferry/pkg/format/avrofmt"
)

// Stored is a set of schemas by id kept beside a backup, so that a restore
// into a cluster whose registry has never seen them needs nothing else: a
// Source for a Translator.
type Stored map[int]avrofmt.Schema

// SchemaByID returns the stored schema of id, or ErrUnknownSchema.
func (s Stored) SchemaByID(_ context.Context, id int) (avrofmt.Schema, error) {
	if sc, ok := s[id]; ok {
		return sc, nil
	}
	return avrofmt.Schema{}, fmt.Errorf("%w: not among the %d schemas the backup stored (restore this topic with --source-schema-registry, the backed-up cluster's registry)", ErrUnknownSchema, len(s))
}

// SchemaByReference resolves a reference of a stored schema: by the id the
// backup kept with it. A reference without one (none is kept by other
// writers) is looked up by subject and version, and refused when the stored
// schemas give that subject and version two different ids (a subject
// deleted and registered again between backups).
func (s Stored) SchemaByReference(_ context.Context, ref avrofmt.Reference) (avrofmt.Schema, int, error) {
	if ref.ID != 0 {
		if sc, ok := s[ref.ID]; ok {
			return sc, ref.ID, nil
		}
	}
	found := 0
	for _, sc := range s {
		for _, r := range sc.References {
			if r.Subject != ref.Subject || r.Version != ref.Version || r.ID == 0 || r.ID == found {
				continue
			}
			if _, ok := s[r.ID]; !ok {
				continue
			}
			if found != 0 {
				return avrofmt.Schema{}, 0, fmt.Errorf("version %d of subject %s stands for two stored schemas (ids %d and %d): restore with --source-schema-registry, the backed-up cluster's registry", ref.Version, ref.Subject, found, r.ID)
			}
			found = r.ID
		}
	}
	if found != 0 {
		return s[found], found, nil
	}
	return avrofmt.Schema{}, 0, fmt.Errorf("%w: version %d of subject %s is not among the schemas the backup stored (restore with --source-schema-registry, the backed-up cluster's registry)", ErrUnknownSchema, ref.Version, ref.Subject)
}

type storedSchema struct {
	Schema     string              `json:"schema"`
	SchemaType string              `json:"schemaType,omitempty"` // as the registry names it; empty: AVRO
	References []avrofmt.Reference `json:"references,omitempty"`
}

// MarshalJSON writes {"<id>":{"schema":…,"schemaType":…},…}, ids in order.
func (s Stored) MarshalJSON() ([]byte, error) {
	f := map[string]storedSchema{}
	for _, id := range slices.Sorted(maps.Keys(s)) {
		f[strconv.Itoa(id)] = storedSchema{Schema: s[id].Text, SchemaType: s[id].Type, References: s[id].References}
	}
	return json.Marshal(f)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Stored) UnmarshalJSON(b []byte) error {
	var f map[string]storedSchema
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	out := Stored{}
	for k, v := range f {
		id, err := strconv.Atoi(k)
		if err != nil {
			return fmt.Errorf("stored schema id %q: %w", k, err)
		}
		out[id] = avrofmt.Schema{Text: v.Schema, Type: v.SchemaType, References: v.References}
	}
	*s = out
	return nil
}
