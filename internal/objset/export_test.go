package objset

// SetMaxObjectBytes lowers the object size at which a set reports Full, so a
// test need not write 47 GiB; it returns a func restoring the limit.
func SetMaxObjectBytes(n int64) (restore func()) {
	old := maxObjectBytes
	maxObjectBytes = n
	return func() { maxObjectBytes = old }
}

// UploadLimit is the largest object an upload can hold: S3's 10,000 parts of
// the part size uploads use (Azure's 50,000 blocks allow more).
const UploadLimit = int64(uploadPartBytes) * 10_000

// MaxObjectBytes is the size at which a set reports Full by default.
func MaxObjectBytes() int64 { return maxObjectBytes }
