package cli

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// settingsFile is a --config file: the same keys as the flags, at the top level
// or inside a named profile (--profile), e.g. one for a source and one for a
// target cluster. Values may be scalars or lists.
type settingsFile struct {
	path     string
	top      map[string]any
	profiles map[string]map[string]any
}

func loadSettings(path string) (*settingsFile, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErrorf("--config: %v", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(body, &raw); err != nil {
		return nil, usageErrorf("--config %s: not YAML: %v", path, firstLine(err.Error()))
	}
	sf := &settingsFile{path: path, top: map[string]any{}, profiles: map[string]map[string]any{}}
	for k, v := range raw {
		if k != "profiles" {
			sf.top[k] = v
			continue
		}
		ps, ok := v.(map[string]any)
		if !ok {
			return nil, usageErrorf("--config %s: profiles must map names to settings", path)
		}
		for name, pv := range ps {
			m, ok := pv.(map[string]any)
			if !ok {
				return nil, usageErrorf("--config %s: profile %q must map flag names to values", path, name)
			}
			sf.profiles[name] = m
		}
	}
	return sf, nil
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// values returns the settings of profile (over the top level), checked against
// the flag names a command knows.
func (sf *settingsFile) values(profile string, known func(string) bool) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range sf.top {
		out[k] = v
	}
	if profile != "" {
		p, ok := sf.profiles[profile]
		if !ok {
			return nil, usageErrorf("--profile %q is not in %s (profiles: %s)", profile, sf.path, strings.Join(sortedKeys(sf.profiles), ", "))
		}
		for k, v := range p {
			out[k] = v
		}
	}
	for k := range out {
		if !known(k) && !globalKeys[k] {
			return nil, usageErrorf("--config %s: unknown setting %q (settings are flag names without dashes, e.g. brokers, sasl-mechanism)", sf.path, k)
		}
	}
	return out, nil
}

// globalKeys may appear in any file without the command having them.
var globalKeys = map[string]bool{"log-format": true, "log-level": true}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func scalar(v any) string {
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ",")
	default:
		return fmt.Sprint(x)
	}
}

// applyFile sets the flags that neither the command line nor the environment set
// from the --config file (precedence: flag > env > file > default).
func applyFile(fs *pflag.FlagSet) (map[string]string, error) {
	path, profile := settingPath(fs)
	if path == "" {
		return nil, nil
	}
	sf, err := loadSettings(path)
	if err != nil {
		return nil, err
	}
	vals, err := sf.values(profile, func(k string) bool { return fs.Lookup(k) != nil })
	if err != nil {
		return nil, err
	}
	set := map[string]string{}
	for k, v := range vals {
		f := fs.Lookup(k)
		if f == nil || f.Changed {
			continue
		}
		if err := fs.Set(k, scalar(v)); err != nil {
			return nil, usageErrorf("--config %s: %s: %v", path, k, err)
		}
		set[k] = "file"
	}
	return set, nil
}

func settingPath(fs *pflag.FlagSet) (string, string) {
	get := func(name string) string {
		if f := fs.Lookup(name); f != nil && f.Value.String() != "" {
			return f.Value.String()
		}
		return os.Getenv(envName(name))
	}
	return get("config"), get("profile")
}

// secretFlag reports whether a flag holds a secret, masked wherever settings
// are shown (also migrate's source-/target- variants).
func secretFlag(name string) bool {
	name = strings.TrimPrefix(strings.TrimPrefix(name, "source-"), "target-")
	return name == "sasl-password" || name == "oauth-token" || name == "schema-registry-password" || name == "schema-registry-token"
}

func newConfigCmd(g *globals) *cobra.Command {
	k := &kafkaFlags{}
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate the settings (flags, KFERRY_* environment, --config file) and print them, secrets masked",
		Long: `config check resolves the Kafka connection settings as every command does
(command line > KFERRY_<FLAG> environment > --config file [--profile] > default),
validates them (TLS files readable, SASL complete), and prints each with where it
came from. Secrets are masked.

Exit status: 0 valid, 2 invalid.` + envHelp,
		Example: `  kferry config check --config kferry.yaml --profile source`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			fromCLI := map[string]bool{}
			fs.VisitAll(func(f *pflag.Flag) { fromCLI[f.Name] = f.Changed })
			if err := applyEnv(fs, nil); err != nil {
				return err
			}
			cfg, err := k.config(g.stderr)
			if err != nil {
				return err
			}
			if err := cfg.Security.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			path, profile := settingPath(fs)
			var sf *settingsFile
			if path != "" {
				if sf, err = loadSettings(path); err != nil {
					return err
				}
			}
			out := &printer{w: g.stdout}
			out.printf("settings (config file %s, profile %s):\n", orDash(path), orDash(profile))
			fs.VisitAll(func(f *pflag.Flag) {
				if f.Name == "help" {
					return
				}
				src := "default"
				switch {
				case fromCLI[f.Name]:
					src = "flag"
				case os.Getenv(envName(f.Name)) != "":
					src = "env " + envName(f.Name)
				case sf != nil && inFile(sf, profile, f.Name):
					src = "file"
				}
				val := f.Value.String()
				if secretFlag(f.Name) && val != "" {
					val = "****"
				}
				out.printf("  %-26s %-40s (%s)\n", f.Name, val, src)
			})
			out.println("ok")
			return out.err
		},
	}
	k.addFlags(check.Flags())
	cmd := &cobra.Command{Use: "config", Short: "Inspect kferry's settings"}
	cmd.AddCommand(check)
	return cmd
}

func inFile(sf *settingsFile, profile, key string) bool {
	if _, ok := sf.top[key]; ok {
		return true
	}
	_, ok := sf.profiles[profile][key]
	return ok
}
