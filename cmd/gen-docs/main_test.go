package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/kferry/kferry/internal/cli"
)

// TestManPages: every command of the tree, completion included, gets a page,
// and placeholders in the help texts survive the Markdown renderer.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	if err := run(dir, "1.2.3", "2026-11-30T18:00:00+01:00"); err != nil {
		t.Fatal(err)
	}
	var want []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.IsAvailableCommand() || c == c.Root() {
			want = append(want, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root := cli.Command(io.Discard, io.Discard)
	root.InitDefaultCompletionCmd()
	walk(root)
	if len(want) < 15 {
		t.Fatalf("only %d commands in the tree", len(want))
	}
	for _, name := range want {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("no man page for %s: %v", name, err)
		}
	}
	page, err := os.ReadFile(filepath.Join(dir, "kferry-export.1"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "topics/<topic>/partition=<p>/<topic>+<p>+<start") {
		t.Error("kferry-export.1 lost the layout's placeholders (read as HTML tags)")
	}
	if !strings.Contains(string(page), `.TH "KFERRY" "1" "Nov 2026" "kferry 1.2.3"`) {
		t.Errorf("kferry-export.1 has no section 1 title line:\n%.300s", page)
	}
}

// TestCompletions: the scripts are those of cobra for kferry's tree (each
// names kferry and a subcommand's flag source, __complete).
func TestCompletions(t *testing.T) {
	dir := t.TempDir()
	if err := writeCompletions(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kferry.bash", "kferry.zsh", "kferry.fish"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "kferry") || !strings.Contains(string(b), "__complete") {
			t.Errorf("%s is not a completion script for kferry:\n%.300s", name, b)
		}
	}
}
