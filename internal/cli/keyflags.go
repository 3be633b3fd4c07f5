package cli

import (
	"os"

	"github.com/spf13/pflag"

	"github.com/kferry/kferry/pkg/seal"
)

// keyFlags choose the client-side encryption key of objects and manifests.
type keyFlags struct{ file string }

func (k *keyFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&k.file, "encrypt-key-file", "", "age identity file (kferry keygen) that encrypts objects and manifests, or decrypts them; or the key itself in KFERRY_ENCRYPTION_KEY")
}

// load returns the key, or nil when none is configured.
func (k *keyFlags) load() (*seal.Key, error) {
	if k.file != "" {
		key, err := seal.Load(k.file)
		if err != nil {
			return nil, usageErrorf("--encrypt-key-file: %v", err)
		}
		return key, nil
	}
	if text := os.Getenv("KFERRY_ENCRYPTION_KEY"); text != "" {
		key, err := seal.Parse(text)
		if err != nil {
			return nil, usageErrorf("KFERRY_ENCRYPTION_KEY: %v", err)
		}
		return key, nil
	}
	return nil, nil
}
