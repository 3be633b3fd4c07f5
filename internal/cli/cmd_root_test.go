package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestHelp: every command's help, on stdout, shows examples and the exit
// status and says that flags can be set from the environment (STYLE.md: CLI).
func TestHelp(t *testing.T) {
	root := newRoot(&globals{})
	for _, c := range root.Commands() {
		cmds := append([]*cobra.Command{c}, c.Commands()...)
		for _, cmd := range cmds {
			if !cmd.Runnable() || cmd.Name() == "help" || cmd.Name() == "completion" {
				continue
			}
			path := strings.Fields(strings.TrimPrefix(cmd.CommandPath(), "kferry "))
			t.Run(strings.Join(path, " "), func(t *testing.T) {
				out, _ := mustRun(t, append(path, "--help")...)
				for _, want := range []string{"Examples:\n  kferry " + strings.Join(path, " "), "Exit status: 0", "KFERRY_<FLAG>"} {
					if !strings.Contains(out, want) {
						t.Errorf("help of %s lacks %q", cmd.CommandPath(), want)
					}
				}
			})
		}
	}
}

// TestRootUsage: an unknown command or flag is a one-line usage error.
func TestRootUsage(t *testing.T) {
	checkUsage(t, nil, []usageCase{
		{"unknown command", []string{"exprot"}, `unknown command "exprot" for "kferry" (did you mean export?)`},
		{"unknown command without a suggestion", []string{"frobnicate"}, `unknown command "frobnicate" for "kferry"`},
		{"unknown flag", []string{"--verbose"}, "unknown flag: --verbose"},
	})
}

// TestOneLine: Main prints every error on one line.
func TestOneLine(t *testing.T) {
	for msg, want := range map[string]string{
		"plain": "plain",
		"unknown command \"exprot\" for \"kferry\"\n\nDid you mean this?\n\texport\n\texpert\n\n": `unknown command "exprot" for "kferry" (did you mean export or expert?)`,
		"first\n\n  second\n": "first; second",
	} {
		if got := oneLine(msg); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", msg, got, want)
		}
	}
}

// TestCompletion: the completion scripts print, and the shell's completion
// request answers commands and flag names.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		out, _ := mustRun(t, "completion", shell)
		if !strings.Contains(out, "kferry") || len(out) < 500 {
			t.Errorf("completion %s printed %d bytes", shell, len(out))
		}
	}
	out, _ := mustRun(t, "__complete", "ex")
	if !strings.Contains(out, "export") {
		t.Errorf("completing \"ex\" gave %q, want export", out)
	}
	out, _ = mustRun(t, "__complete", "export", "--form")
	if !strings.Contains(out, "--format") {
		t.Errorf("completing \"export --form\" gave %q, want --format", out)
	}
}
