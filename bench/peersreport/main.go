// Command peersreport turns the tab-separated files of one make bench-peers
// run (bench/peers.sh) into its result file (JSON, bench/internal/peers), a
// Markdown report with the tables and ratios, and an SVG chart: records/s per
// tool as horizontal bars, and the group offset exactness per migration tool.
//
//	peersreport -runs runs.tsv -offsets offsets.tsv -notes notes.txt -meta meta.txt \
//	    -json peers.json -md peers.md -svg peers.svg
//
// With -from FILE it reads a result file instead of the tab-separated ones (to
// redraw the Markdown and SVG of an older run).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kferry/kferry/bench/internal/peers"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "peersreport:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("peersreport", flag.ContinueOnError)
	runsPath := fs.String("runs", "", "runs.tsv of bench/peers.sh")
	offsetsPath := fs.String("offsets", "", "offsets.tsv of bench/peers.sh")
	latencyPath := fs.String("latency", "", "latency.tsv of bench/peers.sh")
	notesPath := fs.String("notes", "", "notes.txt of bench/peers.sh (one note a line)")
	metaPath := fs.String("meta", "", "meta.txt of bench/peers.sh (key=value lines)")
	from := fs.String("from", "", "read this result file instead of the tab-separated files")
	jsonOut := fs.String("json", "", "write the result file here")
	mdOut := fs.String("md", "", "write the Markdown report here")
	svgOut := fs.String("svg", "", "write the SVG chart here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var res *peers.Result
	var err error
	if *from != "" {
		res, err = peers.Load(*from)
	} else {
		res, err = readTSV(*runsPath, *offsetsPath, *latencyPath, *notesPath, *metaPath)
	}
	if err != nil {
		return err
	}
	if *jsonOut != "" {
		if err := res.Write(*jsonOut); err != nil {
			return err
		}
	}
	if *mdOut != "" {
		if err := os.WriteFile(*mdOut, []byte(markdown(res, svgName(*svgOut))), 0o644); err != nil {
			return err
		}
	}
	if *svgOut != "" {
		if err := os.WriteFile(*svgOut, []byte(chart(res)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// svgName is the chart's file name, for the Markdown's image link.
func svgName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// readTSV reads the script's files; an empty path is an empty file.
func readTSV(runsPath, offsetsPath, latencyPath, notesPath, metaPath string) (*peers.Result, error) {
	res := &peers.Result{FormatVersion: peers.FormatVersion, Meta: map[string]string{}}
	var err error
	if err = withFile(runsPath, func(r io.Reader) (e error) { res.Runs, e = peers.ParseRuns(r); return }); err != nil {
		return nil, err
	}
	if err = withFile(offsetsPath, func(r io.Reader) (e error) { res.Offsets, e = peers.ParseOffsets(r); return }); err != nil {
		return nil, err
	}
	if err = withFile(latencyPath, func(r io.Reader) (e error) { res.Latency, e = peers.ParseLatency(r); return }); err != nil {
		return nil, err
	}
	if err = withFile(metaPath, func(r io.Reader) (e error) { res.Meta, e = peers.ParseMeta(r); return }); err != nil {
		return nil, err
	}
	err = withFile(notesPath, func(r io.Reader) error {
		b, err := io.ReadAll(r)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.TrimSpace(l) != "" {
				res.Notes = append(res.Notes, l)
			}
		}
		return err
	})
	return res, err
}

func withFile(path string, f func(io.Reader) error) error {
	if path == "" {
		return f(strings.NewReader(""))
	}
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = fh.Close() }() // read only
	if err := f(fh); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
