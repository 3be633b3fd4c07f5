package pipeline_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// TestImportWarnsOfMissingSidecar: a partition whose objects have .keys
// objects but one of which lost its own imports that object's records with
// null keys; the summary says so, naming the object (a hostile review found
// the import silent).
func TestImportWarnsOfMissingSidecar(t *testing.T) {
	e := testkit.New(t, "file")
	e.CreateTopic("k", 1)
	for i := range 30 {
		e.Produce(record.Record{Topic: "k", Key: fmt.Appendf(nil, "key-%d", i), Value: fmt.Appendf(nil, `{"i":%d}`, i)})
	}
	if _, err := e.Export(pipeline.ExportOptions{Format: "json", StoreKeys: true, FlushSize: 10, Naming: layout.Naming{TopicsDir: "topics"}}); err != nil {
		t.Fatal(err)
	}
	var lost string
	for key := range e.RawObjects() {
		if strings.Contains(key, "+0+0000000010.keys.") {
			lost = key
		}
	}
	if lost == "" {
		t.Fatalf("no keys object of the second object among %v", e.RawObjects())
	}
	if err := e.B.Delete(e.Ctx, lost); err != nil {
		t.Fatal(err)
	}
	s, err := e.ImportAll(pipeline.ImportOptions{TopicsDir: "topics", Renames: testkit.MustRenames(t, "k=k2"), CreateTopics: true})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range s.Warnings {
		if strings.Contains(w, "k/0: 1 of 3 objects have no .keys object") && strings.Contains(w, "+0+0000000010.json") {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning of the lost keys object in %q", s.Warnings)
	}
	// Objects exported without --store-keys at all are no cause for a warning.
	e2 := testkit.New(t, "file")
	e2.CreateTopic("p", 1)
	e2.Produce(record.Record{Topic: "p", Value: []byte(`{"a":1}`)})
	if _, err := e2.Export(pipeline.ExportOptions{Format: "json", Naming: layout.Naming{TopicsDir: "topics"}}); err != nil {
		t.Fatal(err)
	}
	s, err = e2.ImportAll(pipeline.ImportOptions{TopicsDir: "topics", Renames: testkit.MustRenames(t, "p=p2"), CreateTopics: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range s.Warnings {
		if strings.Contains(w, ".keys") {
			t.Errorf("warning without cause: %s", w)
		}
	}
}
