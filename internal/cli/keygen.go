package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/kferry/kferry/pkg/seal"
)

func newKeygenCmd(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen [--out FILE]",
		Short: "Create an encryption key for backups (an age X25519 identity)",
		Long: `keygen writes a new age identity. Pass it to backup, restore and verify with
--encrypt-key-file FILE or as KFERRY_ENCRYPTION_KEY. Keep it apart from the bucket:
without it the backup cannot be read by anyone, including you. The public key
printed on stderr is what manifests record as the key id. Standard age tools
decrypt kferry's objects with the same file (age -d -i FILE).

Exit status: 0 done, 1 failed, 2 usage error.` + envHelp,
		Example: `  kferry keygen --out kferry-backup.key`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), nil); err != nil {
				return err
			}
			k, err := seal.Generate()
			if err != nil {
				return err
			}
			body := fmt.Sprintf("# kferry backup key; public key: %s\n%s\n", k.ID(), k.String())
			if out == "" {
				if _, err := io.WriteString(g.stdout, body); err != nil {
					return fmt.Errorf("keygen: write the key: %w", err)
				}
			} else if err := writeKeyFile(out, body); err != nil {
				return err
			}
			// Informational: the key's comment line holds the public key too.
			_, _ = fmt.Fprintf(g.stderr, "public key (key id): %s\n", k.ID())
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the key to this new file (mode 0600) instead of stdout")
	return cmd
}

// writeKeyFile writes body to the new file path (mode 0600). A key that could
// not be written whole is removed, so that no truncated key is taken for one.
func writeKeyFile(path, body string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("keygen: %w (an existing key is never overwritten)", err)
	}
	_, err = f.WriteString(body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path) // the write error is the one to report
		return fmt.Errorf("keygen: write %s: %w", path, err)
	}
	return nil
}
