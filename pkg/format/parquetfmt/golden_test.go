package parquetfmt

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/parquet-go/parquet-go"

	"github.com/kferry/kferry/pkg/layout"
)

var update = flag.Bool("update", false, "write the golden fixtures of testdata that are missing")

// golden returns testdata/name, written from obj first with -update when it
// is missing.
func golden(t *testing.T, name string, obj []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	want, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && *update && obj != nil {
		if err := os.WriteFile(path, obj, 0o600); err != nil {
			t.Fatal(err)
		}
		return obj
	}
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// TestGolden: the fixtures kferry wrote (values, keys and headers of 20
// records of richSchema) keep reading back as those records forever, and
// their Parquet schemas are parquet-avro's shapes (testdata/*.schema.txt).
// A new writer version adds fixtures beside these; it never breaks them.
func TestGolden(t *testing.T) {
	f, _ := newFormat(t, "snappy", 0)
	recs := richRecords(t, 20)
	sch := avro.MustParse(richSchema)
	for _, view := range []layout.View{layout.ViewValues, layout.ViewKeys, layout.ViewHeaders} {
		name := "rich+1+0000000000"
		if view != layout.ViewValues {
			name += "." + view.String()
		}
		name += ".snappy.parquet"
		var obj []byte
		if *update {
			obj = encode(t, f, view, recs)
		}
		file := golden(t, name, obj)
		pf, err := parquet.OpenFile(bytes.NewReader(file), int64(len(file)))
		if err != nil {
			t.Fatal(err)
		}
		text := pf.Schema().String()
		if want := string(golden(t, name+".schema.txt", []byte(text))); text != want {
			t.Errorf("%s: Parquet schema\n%s\nwant\n%s", name, text, want)
		}
		got := decode(t, f, layout.Object{Topic: "rich", Partition: 1, View: view}, file)
		if len(got) != len(recs) {
			t.Fatalf("%s: %d records, want %d", name, len(got), len(recs))
		}
		for i := range recs {
			switch view {
			case layout.ViewKeys:
				if !bytes.Equal(got[i].Key, recs[i].Key) {
					t.Errorf("%s: record %d key %q", name, i, got[i].Key)
				}
			case layout.ViewHeaders:
				if fmt.Sprint(got[i].Headers) != fmt.Sprint(recs[i].Headers) {
					t.Errorf("%s: record %d headers %v", name, i, got[i].Headers)
				}
			default:
				var a, b any
				if err := avro.Unmarshal(sch, recs[i].Value[5:], &a); err != nil {
					t.Fatal(err)
				}
				if err := avro.Unmarshal(sch, got[i].Value[5:], &b); err != nil || fmt.Sprint(a) != fmt.Sprint(b) {
					t.Errorf("%s: record %d: %v %v, want %v", name, i, err, b, a)
				}
			}
		}
		if view == layout.ViewValues && !strings.Contains(text, "repeated group list") {
			t.Errorf("%s: nullable items but no 3-level list:\n%s", name, text)
		}
	}
}
