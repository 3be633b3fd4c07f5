package seal_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/kferry/kferry/pkg/seal"
)

// Encrypting an object with a key and decrypting it again. The sealed bytes are
// an age file: age -d -i KEYFILE decrypts them too.
func Example() {
	key, err := seal.Generate()
	if err != nil {
		fmt.Println(err)
		return
	}
	var sealed bytes.Buffer
	w, err := key.Seal(&sealed)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := io.WriteString(w, `{"id":1}`+"\n"); err != nil {
		fmt.Println(err)
		return
	}
	if err := w.Close(); err != nil { // writes the last chunk; sealed stays open
		fmt.Println(err)
		return
	}
	fmt.Println(strings.HasPrefix(sealed.String(), seal.Magic), bytes.Contains(sealed.Bytes(), []byte(`"id"`)))

	r, err := key.Open(&sealed)
	if err != nil {
		fmt.Println(err)
		return
	}
	plain, err := io.ReadAll(r)
	fmt.Printf("%s%v\n", plain, err)
	// Output:
	// true false
	// {"id":1}
	// <nil>
}

// OpenMaybe reads objects whether or not they were sealed, and says which key
// is missing or wrong for those that were.
func ExampleOpenMaybe() {
	key, _ := seal.Generate()
	other, _ := seal.Generate()
	var sealed bytes.Buffer
	w, _ := key.Seal(&sealed)
	_, _ = io.WriteString(w, "secret record")
	_ = w.Close()

	r, err := seal.OpenMaybe(strings.NewReader("plain record"), key)
	if err == nil {
		plain, _ := io.ReadAll(r)
		fmt.Printf("%s\n", plain)
	}
	_, err = seal.OpenMaybe(bytes.NewReader(sealed.Bytes()), nil)
	fmt.Println(errors.Is(err, seal.ErrNoKey))
	_, err = seal.OpenMaybe(bytes.NewReader(sealed.Bytes()), other)
	fmt.Println(errors.Is(err, seal.ErrWrongKey))
	r, err = seal.OpenMaybe(bytes.NewReader(sealed.Bytes()), key)
	if err == nil {
		plain, _ := io.ReadAll(r)
		fmt.Printf("%s\n", plain)
	}
	// Output:
	// plain record
	// true
	// true
	// secret record
}

// Parse reads a key as kferry keygen writes it, comment line included. Its ID
// is the public recipient that manifests record; an error never quotes the
// text it was given.
func ExampleParse() {
	k, _ := seal.Generate()
	text := "# kferry backup key; public key: " + k.ID() + "\n" + k.String() + "\n"
	parsed, err := seal.Parse(text)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(parsed.ID() == k.ID(), strings.HasPrefix(parsed.ID(), "age1"))

	_, err = seal.Parse("AGE-SECRET-KEY-1NOTAKEY")
	fmt.Println(errors.Is(err, seal.ErrBadKey), strings.Contains(err.Error(), "NOTAKEY"))
	// Output:
	// true true
	// true false
}
