// Command gen-docs writes kferry's man pages (section 1, one per command) and
// its shell completion scripts from its command tree, for release archives.
//
//	go run ./cmd/gen-docs -out build/man -completions build/completions
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/kferry/kferry/internal/buildinfo"
	"github.com/kferry/kferry/internal/cli"
)

func main() {
	out := flag.String("out", "man", "folder to write the man pages to (created if missing)")
	completions := flag.String("completions", "", "folder to write kferry.bash, kferry.zsh and kferry.fish to (none if empty)")
	version := flag.String("version", buildinfo.Read().Version, "version the pages name (a release passes its own)")
	date := flag.String("date", "", "date the pages carry, RFC 3339 (a release passes its commit's, so the same commit gives the same pages; default: today)")
	flag.Parse()
	err := run(*out, *version, *date)
	if err == nil && *completions != "" {
		err = writeCompletions(*completions)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-docs:", err)
		os.Exit(1)
	}
}

// writeCompletions writes the scripts `kferry completion SHELL` prints, so that
// packages can install them without running the binary.
func writeCompletions(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	root := cli.Command(io.Discard, io.Discard)
	gens := map[string]func(io.Writer) error{
		"kferry.bash": func(w io.Writer) error { return root.GenBashCompletionV2(w, true) },
		"kferry.zsh":  root.GenZshCompletion,
		"kferry.fish": func(w io.Writer) error { return root.GenFishCompletion(w, true) },
	}
	for name, gen := range gens {
		var b strings.Builder
		if err := gen(&b); err != nil {
			return fmt.Errorf("completion %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil { //nolint:gosec // shipped in archives, read by every user
			return err
		}
	}
	return nil
}

func run(dir, version, date string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	root := cli.Command(io.Discard, io.Discard)
	root.InitDefaultCompletionCmd() // cobra adds it only when the command runs
	root.DisableAutoGenTag = true   // no generation date: the same tree gives the same pages
	escapePlaceholders(root)
	header := &doc.GenManHeader{Title: "KFERRY", Section: "1", Source: "kferry " + version, Manual: "kferry manual"}
	if date != "" {
		t, err := time.Parse(time.RFC3339, date)
		if err != nil {
			return fmt.Errorf("-date %q: %w", date, err)
		}
		header.Date = &t
	}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("man pages in %s: %w", dir, err)
	}
	return nil
}

// escapePlaceholders keeps placeholders such as <topic> in the help texts:
// the man page renderer reads the texts as Markdown, where they are HTML tags.
func escapePlaceholders(c *cobra.Command) {
	esc := strings.NewReplacer("<", `\<`, ">", `\>`)
	c.Long = esc.Replace(c.Long) // examples are code blocks, shown as written
	for _, sub := range c.Commands() {
		escapePlaceholders(sub)
	}
}
