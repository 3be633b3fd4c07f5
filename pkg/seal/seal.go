package seal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
)

// Magic starts every sealed object: the age v1 header line.
const Magic = "age-encryption.org/v1\n"

// ErrWrongKey means an object was sealed for another key.
var ErrWrongKey = errors.New("wrong encryption key")

// ErrNoKey means an object is sealed and no key was given.
var ErrNoKey = errors.New("object is encrypted and no key was given")

// ErrBadKey means a key file or value is not an age identity.
var ErrBadKey = errors.New("bad encryption key")

// Key is an age X25519 identity: it seals for its own recipient and opens what
// was sealed for it. Its ID (the public recipient) is safe to show and store.
type Key struct {
	identity *age.X25519Identity
}

// Generate returns a new random key.
func Generate() (*Key, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	return &Key{identity: id}, nil
}

// Parse reads an identity ("AGE-SECRET-KEY-1…"); comment lines (#) and blank
// lines are skipped, as in age identity files.
func Parse(text string) (*Key, error) {
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, err := age.ParseX25519Identity(line)
		if err != nil {
			// age's message would quote the key; say what is wrong without it.
			return nil, fmt.Errorf("%w: expected an age identity (AGE-SECRET-KEY-1…, as age-keygen or kferry keygen write)", ErrBadKey)
		}
		return &Key{identity: id}, nil
	}
	return nil, fmt.Errorf("%w: empty", ErrBadKey)
}

// Load reads a key from a file.
func Load(path string) (*Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	k, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// String is the secret identity, for writing a key file only.
func (k *Key) String() string { return k.identity.String() }

// ID is the public recipient ("age1…"), kept in manifests to say which key a
// backup needs.
func (k *Key) ID() string { return k.identity.Recipient().String() }

// Seal returns a writer that encrypts into w; Close writes the final chunk (and
// does not close w).
func (k *Key) Seal(w io.Writer) (io.WriteCloser, error) {
	return age.Encrypt(w, k.identity.Recipient())
}

// Open returns the plaintext of a sealed stream. A stream sealed for another
// key is ErrWrongKey; a truncated or altered one fails while reading.
func (k *Key) Open(r io.Reader) (io.Reader, error) {
	pr, err := age.Decrypt(r, k.identity)
	var nomatch *age.NoIdentityMatchError
	if errors.As(err, &nomatch) {
		return nil, fmt.Errorf("%w: it was encrypted for another key than %s", ErrWrongKey, k.ID())
	}
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	return pr, nil
}

// Sniff reports whether the stream behind br starts with the age header,
// without consuming anything.
func Sniff(br *bufio.Reader) bool {
	b, _ := br.Peek(len(Magic))
	return bytes.Equal(b, []byte(Magic))
}

// OpenMaybe returns r's plaintext: r itself when it is not sealed, decrypted
// with k when it is (ErrNoKey if k is nil). It reads only the header's first
// bytes ahead and adds no buffer of its own: an import opens one reader per
// object, and a 64 KiB buffer each cost thousands of small objects more CPU in
// zeroing memory than in decoding (the decoders buffer for themselves).
func OpenMaybe(r io.Reader, k *Key) (io.Reader, error) {
	head := make([]byte, len(Magic))
	// Not io.ReadFull: it reports an end within the header as
	// io.ErrUnexpectedEOF, which is also what a dropped connection's body
	// returns; only the stream's own io.EOF means a short object.
	n := 0
	for empty := 0; n < len(head); {
		m, err := r.Read(head[n:])
		n += m
		if err == io.EOF { // returned bare, as io.ReadFull compares it
			break
		}
		if err != nil {
			return nil, err
		}
		if m > 0 {
			empty = 0
		} else if empty++; empty >= 100 {
			return nil, io.ErrNoProgress
		}
	}
	if n < len(head) {
		return bytes.NewReader(head[:n]), nil // shorter than the header: not sealed
	}
	rest := io.MultiReader(bytes.NewReader(head), r)
	if !bytes.Equal(head, []byte(Magic)) {
		return rest, nil
	}
	if k == nil {
		return nil, fmt.Errorf("%w; pass --encrypt-key-file or KFERRY_ENCRYPTION_KEY", ErrNoKey)
	}
	return k.Open(rest)
}
