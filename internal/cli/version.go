package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kferry/kferry/internal/buildinfo"
)

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print kferry's version, commit, build date, Go version and Kafka/storage library versions",
		Long: `Print kferry's version, the commit and date it was built from, the Go version
and platform, and the versions of franz-go (Kafka) and gocloud (storage): what a
bug report needs. --version prints the first of these on one line.

Exit status: 0 done, 2 usage error.` + envHelp,
		Example: `  kferry version
  kferry version --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := buildinfo.Read()
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(in)
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), strings.Join(in.Lines(), "\n"))
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
