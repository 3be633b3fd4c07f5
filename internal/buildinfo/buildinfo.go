// Package buildinfo says which kferry this binary is: its version, commit and
// build date (stamped by the release build), Go version and key libraries.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Stamped at build time by the release build (goreleaser):
//
//	-ldflags "-X github.com/kferry/kferry/internal/buildinfo.version=1.2.3
//	          -X github.com/kferry/kferry/internal/buildinfo.commit=<sha>
//	          -X github.com/kferry/kferry/internal/buildinfo.date=<RFC 3339>"
//
// A binary built from a checkout keeps "dev" and takes commit and date from
// the VCS stamp `go build` embeds.
var (
	version = "dev"
	commit  = ""
	date    = ""
)

// libraries are the dependencies whose versions a bug report needs.
var libraries = []struct{ name, path string }{
	{"franz-go", "github.com/twmb/franz-go"},
	{"kadm", "github.com/twmb/franz-go/pkg/kadm"},
	{"gocloud", "gocloud.dev"},
}

// Info describes the running binary.
type Info struct {
	Version   string            `json:"version"`
	Commit    string            `json:"commit,omitempty"`
	Modified  bool              `json:"modified,omitempty"` // built from a checkout with uncommitted changes
	Date      string            `json:"date,omitempty"`
	GoVersion string            `json:"go"`
	Platform  string            `json:"platform"`
	Libraries map[string]string `json:"libraries,omitempty"`
}

// Read returns the binary's Info.
func Read() Info {
	in := Info{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return in
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if in.Commit == "" {
				in.Commit = s.Value
			}
		case "vcs.time":
			if in.Date == "" {
				in.Date = s.Value
			}
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	for _, d := range bi.Deps {
		for _, lib := range libraries {
			if d.Path == lib.path {
				if in.Libraries == nil {
					in.Libraries = map[string]string{}
				}
				in.Libraries[lib.name] = d.Version
			}
		}
	}
	return in
}

// Short is the one line `--version` prints: version, short commit, date.
func (in Info) Short() string {
	var extra []string
	if in.Commit != "" {
		c := in.Commit[:min(len(in.Commit), 12)]
		if in.Modified {
			c += "+modified"
		}
		extra = append(extra, c)
	}
	if in.Date != "" {
		extra = append(extra, in.Date)
	}
	extra = append(extra, in.GoVersion)
	return fmt.Sprintf("%s (%s)", in.Version, strings.Join(extra, ", "))
}

// Lines is what `kferry version` prints, one fact a line.
func (in Info) Lines() []string {
	out := []string{"kferry " + in.Version}
	add := func(k, v string) {
		if v != "" {
			out = append(out, fmt.Sprintf("  %-10s %s", k+":", v))
		}
	}
	c := in.Commit
	if in.Modified {
		c += " (modified)"
	}
	add("commit", c)
	add("built", in.Date)
	add("go", in.GoVersion+" "+in.Platform)
	for _, lib := range libraries {
		add(lib.name, in.Libraries[lib.name])
	}
	return out
}

// Version is the release version, "dev" for a build from a checkout: what
// manifests and client ids carry.
func Version() string { return version }
