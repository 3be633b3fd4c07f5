package schemareg

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/kferry/kferry/pkg/format/avrofmt"
)

// TestStoredRoundTrip: stored schemas survive their JSON form, and an id
// not among them is ErrUnknownSchema.
func TestStoredRoundTrip(t *testing.T) {
	in := Stored{7: {Text: `{"type":"string"}`}, 12: {Text: `syntax = "proto3"; message M {}`, Type: "PROTOBUF"},
		13: {Text: `{"type":"record","name":"O","fields":[{"name":"a","type":"A"}]}`, References: []avrofmt.Reference{{Name: "A", Subject: "a", Version: 2, ID: 7}}}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Stored
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("%s read back as %v", b, out)
	}
	if s, id, err := out.SchemaByReference(context.Background(), avrofmt.Reference{Subject: "a", Version: 2, ID: 7}); err != nil || id != 7 || s.Text != in[7].Text {
		t.Errorf("reference a/2: %v %d %v", s, id, err)
	}
	if s, id, err := out.SchemaByReference(context.Background(), avrofmt.Reference{Subject: "a", Version: 2}); err != nil || id != 7 || s.Text != in[7].Text {
		t.Errorf("reference a/2 without an id: %v %d %v", s, id, err)
	}
	if _, _, err := out.SchemaByReference(context.Background(), avrofmt.Reference{Subject: "a", Version: 3}); !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("unknown reference: %v", err)
	}
	if _, err := out.SchemaByID(context.Background(), 8); !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("unknown id: %v", err)
	}
}

// TestStoredAmbiguousReference: a subject deleted and registered again
// between backups gives one subject and version two stored schemas; each
// reference resolves by the id the backup kept, and one without an id is
// refused, never resolved at random.
func TestStoredAmbiguousReference(t *testing.T) {
	s := Stored{
		1: {Text: `{"type":"record","name":"A","fields":[{"name":"city","type":"string"}]}`},
		2: {Text: "old", References: []avrofmt.Reference{{Name: "A", Subject: "address", Version: 1, ID: 1}}},
		3: {Text: `{"type":"record","name":"A","fields":[{"name":"street","type":"string"}]}`},
		4: {Text: "new", References: []avrofmt.Reference{{Name: "A", Subject: "address", Version: 1, ID: 3}}},
	}
	for range 50 { // map order varies between calls
		for _, want := range []int{1, 3} {
			if _, id, err := s.SchemaByReference(context.Background(), avrofmt.Reference{Subject: "address", Version: 1, ID: want}); err != nil || id != want {
				t.Fatalf("reference with id %d resolved to %d (%v)", want, id, err)
			}
		}
	}
	if _, _, err := s.SchemaByReference(context.Background(), avrofmt.Reference{Subject: "address", Version: 1}); err == nil || !strings.Contains(err.Error(), "two stored schemas") {
		t.Errorf("ambiguous reference: %v", err)
	}
}

// TestPayloadCheck: payloads that only start like the wire format are told
// from data of the schema's type: a big-endian long's tail is not Protobuf
// message indexes, and not JSON.
func TestPayloadCheck(t *testing.T) {
	tests := []struct {
		typ     string
		payload []byte
		ok      bool
	}{
		{"PROTOBUF", []byte{0x00, 0x08, 0x01}, true},       // [0], then the message
		{"PROTOBUF", []byte{0x02, 0x02, 0x08, 0x01}, true}, // [1]
		{"PROTOBUF", []byte{0x3c, 0x2a, 0x10}, false},      // 30 indexes in 3 bytes
		{"PROTOBUF", []byte{0x02, 0x01}, false},            // index -1
		{"JSON", []byte(`{"a":1}`), true},
		{"JSON", []byte{0x3c, 0x2a, 0x10}, false},
	}
	for _, tt := range tests {
		c, err := payloadCheck(avrofmt.Schema{Type: tt.typ, Text: "x"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c(tt.payload); (err == nil) != tt.ok {
			t.Errorf("%s %x: err %v, want ok=%v", tt.typ, tt.payload, err, tt.ok)
		}
	}
}
