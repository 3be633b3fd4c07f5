// Package cli wires kferry's commands: per command an options struct, its flags
// and a runX function; no package-level flag variables.
package cli

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kferry/kferry/internal/buildinfo"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/plan"
	_ "github.com/kferry/kferry/pkg/format/bytesfmt" // --format bytes
	_ "github.com/kferry/kferry/pkg/format/jsonfmt"  // --format json
	_ "github.com/kferry/kferry/pkg/format/native"   // --format native, backup
)

// globals are the flags every command has.
type globals struct {
	config    string
	profile   string
	logFormat string
	logLevel  string
	stdout    io.Writer
	stderr    io.Writer
	// logw is stderr as the log writes it: through a progress line while
	// one is shown.
	logw *logWriter
}

// logOut is where the log goes.
func (g *globals) logOut() *logWriter {
	if g.logw == nil {
		g.logw = &logWriter{w: g.stderr}
	}
	return g.logw
}

func (g *globals) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&g.config, "config", "", "YAML file of settings: flag names as keys, optionally under profiles: {name: {...}}")
	fs.StringVar(&g.profile, "profile", "", "profile of the --config file to use (over its top-level settings)")
	fs.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
}

func (g *globals) logger() (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, usageErrorf("--log-level %q: use debug, info, warn or error", g.logLevel)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch g.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(g.logOut(), opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(g.logOut(), opts)), nil
	}
	return nil, usageErrorf("--log-format %q: use text or json", g.logFormat)
}

// preamble is how every one-cluster data command starts: its logger, its
// Kafka settings and its topic selection, each checked.
func (g *globals) preamble(k *kafkaFlags, sel *selectFlags) (*slog.Logger, kafka.Config, plan.Selector, error) {
	log, err := g.logger()
	if err != nil {
		return nil, kafka.Config{}, plan.Selector{}, err
	}
	cfg, err := k.config(g.stderr)
	if err != nil {
		return nil, kafka.Config{}, plan.Selector{}, err
	}
	s, err := sel.selector()
	if err != nil {
		return nil, kafka.Config{}, plan.Selector{}, err
	}
	return log, cfg, s, nil
}

// Main runs kferry with args (without the program's name) until ctx ends,
// writing to stdout and stderr, and returns the exit status (ExitCode). An
// error ends the run with one line on stderr, "kferry: " and the error. The
// binary calls it with os.Args and its standard streams; tests call it with
// buffers.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(&globals{stdout: stdout, stderr: stderr})
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		// Nothing is left to tell when even the error cannot be written.
		(&printer{w: stderr}).println("kferry:", oneLine(err.Error()))
	}
	return ExitCode(err)
}

// oneLine puts an error message on one line, as kferry's errors are: cobra
// adds its suggestions for a mistyped command on lines of their own
// ("unknown command \"exprot\" ...\n\nDid you mean this?\n\texport\n").
func oneLine(msg string) string {
	if head, rest, ok := strings.Cut(msg, "\n\nDid you mean this?\n"); ok {
		return head + " (did you mean " + strings.Join(strings.Fields(rest), " or ") + "?)"
	}
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "kferry",
		Short: "Move Kafka topic data through object storage",
		Long: `kferry exports Kafka topics to object storage (S3 and S3-compatible stores, GCS,
Azure Blob, a local folder) in the Confluent S3 Sink layout, and imports them back,
renamed if you like, into the same or another cluster.

Exit status: 0 done, 1 failed, 2 usage error.`,
		Version:       buildinfo.Read().Short(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g.addFlags(root.PersistentFlags())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%v (see %s --help)", err, c.CommandPath())
	})
	root.AddCommand(newExportCmd(g), newImportCmd(g), newBackupCmd(g), newRestoreCmd(g), newVerifyCmd(g), newPruneCmd(g), newLsCmd(g), newCatCmd(g), newMigrateCmd(g), newDemoCmd(g), newConfigCmd(g), newKeygenCmd(g), newVersionCmd())
	root.SetVersionTemplate("kferry {{.Version}}\n")
	catchInterrupts(root)
	return root
}

// envName is the KFERRY_ variable that stands for a flag.
func envName(flag string) string {
	return "KFERRY_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets every flag the command line left alone from KFERRY_<FLAG>, then
// from the Kafka Connect recipe's variables in fallbacks (flag -> variable), then
// from the --config file: flag > env > file > default.
func applyEnv(fs *pflag.FlagSet, fallbacks map[string]string) error {
	if err := applyEnvOnly(fs, fallbacks); err != nil {
		return err
	}
	_, err := applyFile(fs)
	return err
}

func applyEnvOnly(fs *pflag.FlagSet, fallbacks map[string]string) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok {
			if name, has := fallbacks[f.Name]; has {
				v, ok = os.LookupEnv(name)
			}
		}
		if !ok || v == "" {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = usageErrorf("environment for --%s: %v", f.Name, serr)
		}
	})
	return err
}

// envHelp is appended to every command's help.
const envHelp = `
Every flag can also be set as KFERRY_<FLAG> (e.g. KFERRY_BROKERS); the command line wins.`

func checkArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s takes %d argument(s), got %d (see --help)", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q (see --help)", cmd.CommandPath(), args)
	}
	return nil
}

// Command returns kferry's command tree, writing to stdout and stderr, for
// tools that document it (cmd/gen-docs writes the man pages from it).
func Command(stdout, stderr io.Writer) *cobra.Command {
	return newRoot(&globals{stdout: stdout, stderr: stderr})
}
