// Command gen-docs writes kferry's man pages (section 1, one per command) from
// its command tree, for release archives and packages.
//
//	go run ./cmd/gen-docs -out dist/man
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/kferry/kferry/internal/buildinfo"
	"github.com/kferry/kferry/internal/cli"
)

func main() {
	out := flag.String("out", "man", "folder to write the man pages to (created if missing)")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen-docs:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	root := cli.Command(io.Discard, io.Discard)
	root.InitDefaultCompletionCmd() // cobra adds it only when the command runs
	root.DisableAutoGenTag = true   // no generation date: the same tree gives the same pages
	escapePlaceholders(root)
	header := &doc.GenManHeader{Title: "KFERRY", Section: "1", Source: "kferry " + buildinfo.Read().Version, Manual: "kferry manual"}
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
