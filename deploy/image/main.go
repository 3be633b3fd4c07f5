// Command image builds kferry's container image without a Docker engine: the
// static binaries of a release on an empty base, written as an OCI layout (a
// multi-platform index) and one docker-loadable tarball per platform.
//
//	go run ./deploy/image -version 1.2.3 -commit <sha> -out dist/image \
//	    -binary linux/amd64=dist/kferry_linux_amd64_v1/kferry \
//	    -binary linux/arm64=dist/kferry_linux_arm64_v8.0/kferry
//
// or, after a goreleaser build, from what it wrote (`make release-snapshot`;
// -created keeps the digest the same for the same commit):
//
//	go run ./deploy/image -dist dist -out dist/image -created "$(git log -1 --format=%cI)"
//
// The image holds /kferry, the CA certificates of the machine that builds it
// (/etc/ssl/certs/ca-certificates.crt, for TLS to brokers and object stores)
// and a passwd entry for the user it runs as, 65532 (nonroot), not root.
package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// User is the uid and gid the image runs as (distroless's "nonroot").
const User = "65532:65532"

const nonrootID = 65532

// Options say what to build.
type Options struct {
	Version, Commit, Created string
	// Binaries maps a platform ("linux/amd64") to the kferry binary for it.
	Binaries map[string]string
	// CACerts is the CA bundle to ship.
	CACerts string
	// Repository names the image in the tarballs ("ghcr.io/kferry/kferry").
	Repository string
	Out        string
}

func main() {
	var o Options
	var bins multiFlag
	flag.StringVar(&o.Version, "version", "dev", "version label and tag")
	flag.StringVar(&o.Commit, "commit", "", "commit label")
	flag.StringVar(&o.Created, "created", "", "creation time, RFC 3339 (default: the commit's, else 1970)")
	flag.Var(&bins, "binary", "platform=path of a static kferry binary (repeat per platform)")
	flag.StringVar(&o.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to ship")
	flag.StringVar(&o.Repository, "repository", "ghcr.io/kferry/kferry", "image name in the tarballs")
	flag.StringVar(&o.Out, "out", "dist/image", "output folder")
	dist := flag.String("dist", "", "goreleaser's dist folder: its linux binaries, version, commit and date (instead of -binary, -version, -commit, -created)")
	flag.Parse()
	o.Binaries = map[string]string{}
	if *dist != "" {
		if err := fromDist(&o, *dist); err != nil {
			log.Fatal(err)
		}
	}
	for _, b := range bins {
		platform, path, ok := strings.Cut(b, "=")
		if !ok {
			log.Fatalf("-binary %q: want platform=path", b)
		}
		o.Binaries[platform] = path
	}
	if err := Build(o); err != nil {
		log.Fatal(err)
	}
}

// fromDist fills o from goreleaser's artifacts.json (every linux binary) and
// metadata.json (version, commit, and the date unless -created gave one) in dir.
func fromDist(o *Options, dir string) error {
	var meta struct{ Version, Commit, Date string }
	if err := readJSON(filepath.Join(dir, "metadata.json"), &meta); err != nil {
		return fmt.Errorf("%w (-dist is the folder goreleaser wrote: run make release-snapshot)", err)
	}
	var artifacts []struct{ Type, Path, Goos, Goarch string }
	if err := readJSON(filepath.Join(dir, "artifacts.json"), &artifacts); err != nil {
		return err
	}
	for _, a := range artifacts {
		if a.Type == "Binary" && a.Goos == "linux" {
			o.Binaries[a.Goos+"/"+a.Goarch] = distPath(dir, a.Path)
		}
	}
	if len(o.Binaries) == 0 {
		return fmt.Errorf("%s lists no linux binary: run goreleaser first", filepath.Join(dir, "artifacts.json"))
	}
	// Tags allow [A-Za-z0-9_.-]: a snapshot's build metadata ("+abc") becomes ".abc".
	o.Version = strings.ReplaceAll(meta.Version, "+", ".")
	o.Commit = meta.Commit
	if t, err := time.Parse(time.RFC3339, meta.Date); err == nil && o.Created == "" {
		o.Created = t.UTC().Format(time.RFC3339) // the run's time: -created (the commit's) keeps builds reproducible
	}
	return nil
}

// distPath is where a binary artifacts.json lists is, wherever this runs: the
// list names it from the folder goreleaser ran in, and goreleaser puts it in
// <dist>/<build>_<os>_<arch>[_<variant>]/<name>.
func distPath(dir, path string) string {
	folder, name := filepath.Split(filepath.Clean(path))
	return filepath.Join(dir, filepath.Base(folder), name)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// Build writes o.Out/oci (an OCI layout holding the index of every platform)
// and o.Out/kferry_<os>_<arch>.tar (docker load) per platform.
func Build(o Options) error {
	if len(o.Binaries) == 0 {
		return errors.New("no -binary given")
	}
	created := time.Unix(0, 0).UTC()
	if o.Created != "" {
		t, err := time.Parse(time.RFC3339, o.Created)
		if err != nil {
			return fmt.Errorf("-created %q: %w", o.Created, err)
		}
		created = t.UTC()
	}
	certs, err := os.ReadFile(o.CACerts)
	if err != nil {
		return fmt.Errorf("CA certificates: %w (install ca-certificates or give -ca-certs FILE)", err)
	}
	tag, err := name.NewTag(o.Repository + ":" + o.Version)
	if err != nil {
		return fmt.Errorf("image name: %w", err)
	}
	if err := os.MkdirAll(o.Out, 0o750); err != nil {
		return err
	}
	platforms := make([]string, 0, len(o.Binaries))
	for p := range o.Binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, platform := range platforms {
		img, plat, err := platformImage(o, platform, certs, created)
		if err != nil {
			return err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: plat}})
		file := filepath.Join(o.Out, fmt.Sprintf("kferry_%s_%s.tar", plat.OS, plat.Architecture))
		if err := tarball.WriteToFile(file, tag, img); err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
	}
	// The layout's index.json holds one entry, the multi-platform index, named
	// by the version: `crane push dir ref` and `skopeo copy oci:dir:<version>`
	// take it whole.
	dir := filepath.Join(o.Out, "oci")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("write OCI layout: %w", err)
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag.TagStr()})); err != nil {
		return fmt.Errorf("write OCI layout: %w", err)
	}
	return nil
}

// platformImage is the image of one platform: a layer of files (passwd, group,
// CA bundle) and one of the binary, so that a new release changes one layer.
func platformImage(o Options, platform string, certs []byte, created time.Time) (v1.Image, *v1.Platform, error) {
	osName, arch, ok := strings.Cut(platform, "/")
	if !ok {
		return nil, nil, fmt.Errorf("platform %q: want os/arch", platform)
	}
	bin, err := os.ReadFile(o.Binaries[platform])
	if err != nil {
		return nil, nil, fmt.Errorf("binary for %s: %w", platform, err)
	}
	if err := checkBinary(bin, arch); err != nil {
		return nil, nil, fmt.Errorf("binary for %s (%s): %w", platform, o.Binaries[platform], err)
	}
	base, err := layer(created, []file{
		{"etc/", nil, 0o755, 0},
		{"etc/passwd", []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"), 0o644, 0},
		{"etc/group", []byte("root:x:0:\nnonroot:x:65532:\n"), 0o644, 0},
		{"etc/ssl/", nil, 0o755, 0},
		{"etc/ssl/certs/", nil, 0o755, 0},
		{"etc/ssl/certs/ca-certificates.crt", certs, 0o644, 0},
		{"home/", nil, 0o755, 0},
		{"home/nonroot/", nil, 0o700, nonrootID}, // the user's own: HOME and the working folder
		{"tmp/", nil, 0o1777, 0},
	})
	if err != nil {
		return nil, nil, err
	}
	app, err := layer(created, []file{{"kferry", bin, 0o755, 0}})
	if err != nil {
		return nil, nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	hist := func(by string) v1.History { return v1.History{Created: v1.Time{Time: created}, CreatedBy: by} }
	if img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: hist("deploy/image: passwd, group, CA certificates, home, tmp")},
		mutate.Addendum{Layer: app, History: hist("deploy/image: /kferry")}); err != nil {
		return nil, nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = osName, arch
	cfg.Created = v1.Time{Time: created}
	cfg.Config.User = User
	cfg.Config.WorkingDir = "/home/nonroot"
	cfg.Config.Entrypoint = []string{"/kferry"}
	cfg.Config.Env = []string{"PATH=/", "HOME=/home/nonroot", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	cfg.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       "kferry",
		"org.opencontainers.image.description": "Kafka topic data through object storage: export, import, backup, restore, migrate",
		"org.opencontainers.image.source":      "https://github.com/kferry/kferry",
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.revision":    o.Commit,
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.created":     created.Format(time.RFC3339),
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return nil, nil, err
	}
	return img, &v1.Platform{OS: osName, Architecture: arch}, nil
}

// machines are the ELF machines of the architectures images are built for.
var machines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// checkBinary refuses a binary of another architecture than arch (the image
// would fail with "exec format error") or one that needs a dynamic loader:
// the image has none (build with CGO_ENABLED=0).
func checkBinary(bin []byte, arch string) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("not a linux (ELF) binary: %w", err)
	}
	defer func() { _ = f.Close() }() // reads from memory: nothing to lose
	if want, ok := machines[arch]; !ok {
		return fmt.Errorf("architecture %q: want amd64 or arm64", arch)
	} else if f.Machine != want {
		return fmt.Errorf("built for %v, not %s: give each platform its own binary (GOARCH=%s)", f.Machine, arch, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked; the image has no loader: build with CGO_ENABLED=0")
		}
	}
	return nil
}

type file struct {
	name string
	body []byte // nil: a folder
	mode int64
	uid  int // owner (and group); root when 0
}

// layer is a gzipped tar of files with fixed times, so that the same inputs
// give the same digest.
func layer(modTime time.Time, files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.uid, ModTime: modTime, Typeflag: tar.TypeReg, Size: int64(len(f.body)), Format: tar.FormatPAX}
		if f.body == nil {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	body := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }, tarball.WithMediaType(types.OCILayer))
}
