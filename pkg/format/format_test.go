package format_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/pkg/format"
	_ "github.com/kferry/kferry/pkg/format/bytesfmt"
	_ "github.com/kferry/kferry/pkg/format/jsonfmt"
	"github.com/kferry/kferry/pkg/layout"
)

func TestLookup(t *testing.T) {
	for _, tt := range []struct{ name, ext string }{{"json", ".json"}, {"bytes", ".bin"}} {
		f, err := format.Lookup(tt.name)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", tt.name, err)
		}
		if f.Name() != tt.name || f.Ext() != tt.ext {
			t.Errorf("Lookup(%q) = %s %s, want %s %s", tt.name, f.Name(), f.Ext(), tt.name, tt.ext)
		}
		g, err := format.ByExt(tt.ext)
		if err != nil || g.Name() != tt.name {
			t.Errorf("ByExt(%q) = %v, %v; want the %s format", tt.ext, g, err, tt.name)
		}
	}
	if diff := cmp.Diff([]string{"bytes", "json"}, format.Names()); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
}

func TestLookupUnknown(t *testing.T) {
	_, err := format.Lookup("avro")
	if !errors.Is(err, format.ErrUnknownFormat) || !strings.Contains(err.Error(), `"avro"`) || !strings.Contains(err.Error(), "bytes json") {
		t.Errorf("Lookup(avro) error = %v, want ErrUnknownFormat naming it and the known formats", err)
	}
	_, err = format.ByExt(".json.gz")
	if !errors.Is(err, format.ErrUnknownFormat) || !strings.Contains(err.Error(), `".json.gz"`) {
		t.Errorf("ByExt(.json.gz) error = %v, want ErrUnknownFormat naming the extension", err)
	}
}

type fake struct{ name, ext string }

func (f fake) Name() string { return f.name }
func (f fake) Ext() string  { return f.ext }
func (fake) NewEncoder(io.Writer, layout.View) (format.Encoder, error) {
	return nil, errors.New("fake")
}
func (fake) NewDecoder(io.Reader, layout.View) (format.Decoder, error) {
	return nil, errors.New("fake")
}

// TestRegisterDuplicate: a second format with a taken name or extension is a
// start-up panic, and the registry keeps the first one.
func TestRegisterDuplicate(t *testing.T) {
	for _, f := range []fake{{"json", ".other"}, {"other", ".bin"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%s %s) did not panic", f.name, f.ext)
				}
			}()
			format.Register(f)
		}()
	}
	if _, err := format.Lookup("other"); err == nil {
		t.Error("a refused format was registered under its name")
	}
	if _, err := format.ByExt(".other"); err == nil {
		t.Error("a refused format was registered under its extension")
	}
}
