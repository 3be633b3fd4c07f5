package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/internal/kafka/schemareg"
	"github.com/kferry/kferry/pkg/format/avrofmt"
	"github.com/kferry/kferry/pkg/record"
)

const (
	addressSchema  = `{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"city","type":"string"}]}`
	shipmentSchema = `{"type":"record","name":"Shipment","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"to","type":"com.acme.Address"}]}`
)

// seedRefs produces shipments whose schema references com.acme.Address
// (subject address, version 1) into topic ships of c; it returns the
// registry's id of the shipment schema.
func seedRefs(t *testing.T, c *kafkatest.Cluster, reg *kafkatest.Registry) int {
	t.Helper()
	reg.Register(t, "address", addressSchema)
	id := reg.RegisterRefs(t, "ships-value", shipmentSchema, [3]any{"com.acme.Address", "address", 1})
	cache := &avro.SchemaCache{}
	if _, err := avro.ParseWithCache(addressSchema, "", cache); err != nil {
		t.Fatal(err)
	}
	sch, err := avro.ParseWithCache(shipmentSchema, "", cache)
	if err != nil {
		t.Fatal(err)
	}
	var recs []record.Record
	for i := range 6 {
		b, err := avro.Marshal(sch, map[string]any{"id": int64(i), "to": map[string]any{"city": fmt.Sprintf("city-%d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, record.Record{Topic: "ships", Partition: int32(i % 2), Key: fmt.Appendf(nil, "k%d", i), Value: avrofmt.AppendWire(nil, id, b)})
	}
	if err := c.CreateTopic(context.Background(), "ships", 2); err != nil {
		t.Fatal(err)
	}
	if err := c.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	return id
}

// checkRefsCopy checks that topic of dst holds src's ships with every value
// under one target id whose schema references the target's address subject,
// payloads unchanged.
func checkRefsCopy(t *testing.T, src, dst *kafkatest.Cluster, topic, dstReg string, srcID int) {
	t.Helper()
	cl, err := schemareg.New(schemareg.Config{URL: dstReg})
	if err != nil {
		t.Fatal(err)
	}
	got, want := records(t, dst, topic), records(t, src, "ships")
	n := 0
	for p := range int32(2) {
		if len(got[p]) != len(want[p]) {
			t.Fatalf("partition %d: %d records, want %d", p, len(got[p]), len(want[p]))
		}
		for i := range got[p] {
			g, err := avrofmt.ParseWire(got[p][i].Value)
			if err != nil || g.ID == srcID {
				t.Fatalf("partition %d record %d: id %d (source %d), %v", p, i, g.ID, srcID, err)
			}
			s, err := cl.SchemaByID(context.Background(), g.ID)
			if err != nil || len(s.References) != 1 || s.References[0].Subject != "address" {
				t.Fatalf("target schema %d: %+v, %v", g.ID, s, err)
			}
			if string(g.Payload) != string(want[p][i].Value[5:]) {
				t.Errorf("partition %d record %d: payload changed", p, i)
			}
			n++
		}
	}
	if n != 6 {
		t.Errorf("%d records compared, want 6", n)
	}
	if _, v, err := cl.SchemaBySubjectVersion(context.Background(), "address", 1); err != nil || v == 0 {
		t.Errorf("the referenced schema is not in the target registry: %v", err)
	}
}

// TestSchemaReferences: records whose schema references another (Confluent
// schema references) keep their meaning across registries: import with
// --source-schema-registry and a restore from the schemas a backup stored
// register the referenced schema under its subject in the target first,
// then the record's schema with the target's reference, and rewrite the id.
func TestSchemaReferences(t *testing.T) {
	src, srcReg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	srcID := seedRefs(t, src, srcReg)
	dir := t.TempDir()
	mustRun(t, "export", "--brokers", brokers(src), "--topics", "ships", "--to", dir, "--format", "native")
	dst, dstReg := shiftedTarget(t)
	mustRun(t, "import", "--from", dir, "--brokers", brokers(dst), "--rename", "ships=ships-copy",
		"--schema-registry", dstReg, "--source-schema-registry", srcReg.URL())
	checkRefsCopy(t, src, dst, "ships-copy", dstReg, srcID)

	bdir := t.TempDir()
	mustRun(t, "backup", "--brokers", brokers(src), "--topics", "ships", "--to", bdir, "--schema-registry", srcReg.URL())
	dst2, dstReg2 := shiftedTarget(t)
	mustRun(t, "restore", "--from", bdir, "--brokers", brokers(dst2), "--schema-registry", dstReg2)
	checkRefsCopy(t, src, dst2, "ships", dstReg2, srcID)

	// The avro format does not resolve references yet: one line, no object.
	out := t.TempDir()
	_, errOut, code := run(t, "export", "--brokers", brokers(src), "--topics", "ships", "--to", out, "--format", "avro", "--schema-registry", srcReg.URL())
	if code != ExitFailed || !errorLine(errLine(errOut)) || !strings.Contains(errOut, "references") {
		t.Errorf("avro export of a schema with references: exit %d, stderr %q", code, errOut)
	}
}

// TestKeyOfValueSchema: a key whose bytes start like the wire format with
// the id of a value schema, and then happen to be a datum of it, is refused
// with one line, not rewritten (the source registry knows the id only under
// <topic>-value).
func TestKeyOfValueSchema(t *testing.T) {
	src, srcReg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	id := srcReg.Register(t, "odd-value", orderV1)
	key := avrofmt.AppendWire(nil, id, []byte{0x02, 0x00}) // {id: 1, note: null}
	if err := src.CreateTopic(context.Background(), "odd", 1); err != nil {
		t.Fatal(err)
	}
	if err := src.Produce(context.Background(), []record.Record{{Topic: "odd", Key: key, Value: []byte(`{"a":1}`)}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mustRun(t, "export", "--brokers", brokers(src), "--topics", "odd", "--to", dir, "--format", "native")
	dst, dstReg := shiftedTarget(t)
	_, errOut, code := run(t, "import", "--from", dir, "--brokers", brokers(dst), "--schema-registry", dstReg, "--source-schema-registry", srcReg.URL())
	if code != ExitFailed || !errorLine(errLine(errOut)) || !strings.Contains(errOut, "only for values") || !strings.Contains(errOut, "without --source-schema-registry") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	mustRun(t, "import", "--from", dir, "--brokers", brokers(dst), "--rename", "odd=odd-copy")
	if got := records(t, dst, "odd-copy"); len(got[0]) != 1 || string(got[0][0].Key) != string(key) {
		t.Errorf("a plain import changed the key: %v", got)
	}
}

// TestSchemasChecksum: the manifest of a backup made with a registry names
// its schemas file with a SHA-256; verify reads the file and reports a
// changed one, and restore refuses to translate ids with it.
func TestSchemasChecksum(t *testing.T) {
	src, srcReg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	seedRefs(t, src, srcReg)
	dir := t.TempDir()
	mustRun(t, "backup", "--brokers", brokers(src), "--topics", "ships", "--to", dir, "--schema-registry", srcReg.URL())
	ids := manifests(t, dir)
	if len(ids) != 1 {
		t.Fatalf("backups %v", ids)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "_kferry", "backups", ids[0]+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"key": "_kferry/schemas/`+ids[0]+`.json",`) || !strings.Contains(string(raw), `"sha256": "`) {
		t.Fatalf("the manifest does not name its schemas file:\n%s", raw)
	}
	mustRun(t, "verify", dir)
	path := filepath.Join(dir, "_kferry", "schemas", ids[0]+".json")
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(body), "city", "town", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "verify", dir)
	if code == ExitOK || !strings.Contains(out+errOut, "checksum") {
		t.Errorf("verify of a changed schemas file: exit %d\n%s\n%s", code, out, errOut)
	}
	dst, dstReg := shiftedTarget(t)
	_, errOut, code = run(t, "restore", "--from", dir, "--brokers", brokers(dst), "--schema-registry", dstReg)
	if code == ExitOK || !errorLine(errLine(errOut)) || !strings.Contains(errOut, "checksum") {
		t.Errorf("restore with a changed schemas file: exit %d, stderr %q", code, errOut)
	}
}

// softDelete soft-deletes subject in the registry at url (Confluent's
// DELETE /subjects/{subject}): its versions stay readable with deleted=true.
func softDelete(t *testing.T, url, subject string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodDelete, url+"/subjects/"+subject, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // only the status matters
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("delete subject %s: %s", subject, resp.Status)
	}
}

// TestSchemaRefsDeleted: subjects soft-deleted since the records were
// written (the records' ids still resolve) stop neither a backup nor an
// import: references resolve with deleted versions included, and a key's
// soft-deleted -key subject still counts as a key subject.
func TestSchemaRefsDeleted(t *testing.T) {
	src, srcReg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	srcID := seedRefs(t, src, srcReg)
	softDelete(t, srcReg.URL(), "ships-value")
	softDelete(t, srcReg.URL(), "address")
	bdir := t.TempDir()
	mustRun(t, "backup", "--brokers", brokers(src), "--topics", "ships", "--to", bdir, "--schema-registry", srcReg.URL())
	dst, dstReg := shiftedTarget(t)
	mustRun(t, "restore", "--from", bdir, "--brokers", brokers(dst), "--schema-registry", dstReg)
	checkRefsCopy(t, src, dst, "ships", dstReg, srcID)

	// A key of a schema registered under a -key subject and a -value one,
	// the -key one soft-deleted since: still a key, translated.
	id := srcReg.Register(t, "keyed-key", orderV1)
	srcReg.Register(t, "other-value", orderV1)
	softDelete(t, srcReg.URL(), "keyed-key")
	key := avrofmt.AppendWire(nil, id, []byte{0x02, 0x00})
	if err := src.CreateTopic(context.Background(), "keyed", 1); err != nil {
		t.Fatal(err)
	}
	if err := src.Produce(context.Background(), []record.Record{{Topic: "keyed", Key: key, Value: []byte(`{"a":1}`)}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mustRun(t, "export", "--brokers", brokers(src), "--topics", "keyed", "--to", dir, "--format", "native")
	mustRun(t, "import", "--from", dir, "--brokers", brokers(dst), "--schema-registry", dstReg, "--source-schema-registry", srcReg.URL())
	got := records(t, dst, "keyed")
	if w, err := avrofmt.ParseWire(got[0][0].Key); err != nil || w.ID == id || string(w.Payload) != string(key[5:]) {
		t.Errorf("key %x: not translated (source id %d): %v", got[0][0].Key, id, err)
	}
}

// TestSchemasFileMissingChain: a backup whose predecessor's schemas file is
// gone (or changed) still runs: it stores its own records' schemas, marked
// incomplete, and says so.
func TestSchemasFileMissingChain(t *testing.T) {
	src, srcReg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	seedRefs(t, src, srcReg)
	dir := t.TempDir()
	mustRun(t, "backup", "--brokers", brokers(src), "--topics", "ships", "--to", dir, "--schema-registry", srcReg.URL())
	ids := manifests(t, dir)
	if err := os.Remove(filepath.Join(dir, "_kferry", "schemas", ids[0]+".json")); err != nil {
		t.Fatal(err)
	}
	seed(t, src, "ships", 2, 2) // something new for the next backup
	out, errOut := mustRun(t, "backup", "--brokers", brokers(src), "--topics", "ships", "--to", dir, "--schema-registry", srcReg.URL())
	if !strings.Contains(out+errOut, "cannot be read") {
		t.Errorf("no warning about the missing schemas file:\n%s\n%s", out, errOut)
	}
	ids = manifests(t, dir)
	body, err := os.ReadFile(filepath.Join(dir, "_kferry", "schemas", ids[len(ids)-1]+".json"))
	if err != nil || !strings.Contains(string(body), `"complete":false`) {
		t.Errorf("the second backup's schemas file: %s (%v), want complete false", body, err)
	}
}
