// Package seal encrypts kferry's objects and manifests on the client side with
// age (X25519, ChaCha20-Poly1305 in 64 KiB chunks, a fresh file key per object),
// so a bucket alone reveals nothing; standard age tools decrypt them too.
//
// A [Key] is an age X25519 identity: [Generate] makes one (kferry keygen writes
// it to a file), [Load] and [Parse] read one. [Key.Seal] wraps a writer so that
// what is written to it is encrypted for the key, and [Key.Open] wraps a reader
// of a sealed stream; [OpenMaybe] reads a stream that may or may not be sealed
// (an unencrypted backup, or an object written before encryption was switched
// on), recognising sealed ones by [Magic] ([Sniff]).
//
// The key's [Key.ID] is its public recipient (age1…): manifests record it, so a
// reader given the wrong key is told which one the backup needs. Errors never
// quote the secret identity; [ErrBadKey], [ErrNoKey] and [ErrWrongKey] say what
// is missing. A truncated or altered sealed stream fails while it is read, never
// with silently wrong plaintext.
//
//	age -d -i kferry-backup.key < object.kfr > plain.kfr
//
// decrypts any object kferry sealed with the key file kferry-backup.key.
package seal
