package seal

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func seal(t *testing.T, k *Key, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := k.Seal(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSealOpen(t *testing.T) {
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	plain := bytes.Repeat([]byte("kafka record "), 20_000) // several 64 KiB chunks
	sealed := seal(t, k, plain)
	if bytes.Contains(sealed, []byte("kafka record")) || !strings.HasPrefix(string(sealed), Magic) {
		t.Fatal("sealed object shows plaintext or lacks the age header")
	}
	if bytes.Equal(sealed, seal(t, k, plain)) {
		t.Error("two seals of the same plaintext are equal: no fresh file key / nonce")
	}
	got, err := OpenMaybe(bytes.NewReader(sealed), k)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(got); err != nil || !bytes.Equal(b, plain) {
		t.Fatalf("round trip: %v, equal=%v", err, bytes.Equal(b, plain))
	}

	other, _ := Generate()
	if _, err := OpenMaybe(bytes.NewReader(sealed), other); !errors.Is(err, ErrWrongKey) {
		t.Errorf("wrong key: err = %v", err)
	}
	if _, err := OpenMaybe(bytes.NewReader(sealed), nil); !errors.Is(err, ErrNoKey) {
		t.Errorf("no key: err = %v", err)
	}
	for name, bad := range map[string][]byte{
		"truncated": sealed[:len(sealed)-100],
		"altered":   append(append([]byte{}, sealed[:len(sealed)-10]...), 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x'),
	} {
		r, err := OpenMaybe(bytes.NewReader(bad), k)
		if err == nil {
			_, err = io.ReadAll(r)
		}
		if err == nil {
			t.Errorf("%s object decrypted without error", name)
		}
	}
	plainR, err := OpenMaybe(strings.NewReader("{\"a\":1}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(plainR); string(b) != "{\"a\":1}\n" {
		t.Errorf("unsealed passthrough = %q", b)
	}
}

func TestParse(t *testing.T) {
	k, _ := Generate()
	again, err := Parse("# created by kferry keygen\n# public key: " + k.ID() + "\n" + k.String() + "\n")
	if err != nil || again.ID() != k.ID() {
		t.Fatalf("Parse(key file) = %v, %v", again, err)
	}
	_, err = Parse("AGE-SECRET-KEY-1NOTAKEYATALLhunter2")
	if !errors.Is(err, ErrBadKey) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad key: err = %v (must not quote the key)", err)
	}
}

// Plain objects come back byte for byte, also those shorter than the age
// header, those that start like it, and a failing reader's error.
func TestOpenMaybePlain(t *testing.T) {
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{"", "a", Magic[:len(Magic)-1], Magic[:len(Magic)-1] + "X and more", strings.Repeat("line\n", 50_000)} {
		r, err := OpenMaybe(strings.NewReader(plain), k)
		if err != nil {
			t.Fatalf("%.20q: %v", plain, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || string(got) != plain {
			t.Fatalf("%.20q: read %d bytes (%v), want %d", plain, len(got), err, len(plain))
		}
	}
	boom := errors.New("boom")
	if _, err := OpenMaybe(iotest.ErrReader(boom), k); !errors.Is(err, boom) {
		t.Fatalf("failing reader: %v, want boom", err)
	}
}

// A stream that breaks within the header's bytes (a dropped connection: the
// HTTP body of an object ends with io.ErrUnexpectedEOF) is an error, not a
// short plain object: read as one, an import would take a cut object, or an
// empty one, for the whole of it.
func TestOpenMaybeCutStream(t *testing.T) {
	for _, head := range []string{"", "a", "{\"k\":1", Magic[:len(Magic)-1]} {
		r := io.MultiReader(strings.NewReader(head), iotest.ErrReader(io.ErrUnexpectedEOF))
		plain, err := OpenMaybe(r, nil)
		if err == nil {
			var got []byte
			got, err = io.ReadAll(plain)
			if err == nil {
				t.Fatalf("%q then a dropped connection: read %q without error", head, got)
			}
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("%q then a dropped connection: %v, want io.ErrUnexpectedEOF", head, err)
		}
	}
}
