package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestImage builds the image of a freshly built static kferry for this
// machine's platform, then reads it back as `docker load` and a registry
// would: the tarball's config (non-root user, entrypoint, labels), its files
// (the binary, CA certificates, passwd), the binary run from the extracted
// image (`version` prints the stamped version), and the OCI layout's index.
// Built twice, it has the same digest.
// (Longer than 80 lines on purpose: one image, checked fact by fact.)
func TestImage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the image holds a linux binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "kferry")
	build := exec.Command("go", "build", "-ldflags", "-X github.com/kferry/kferry/internal/buildinfo.version=9.8.7", "-o", bin, "../../cmd/kferry")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build kferry: %v\n%s", err, out)
	}
	certs := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(certs, []byte("-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	platform := "linux/" + runtime.GOARCH
	o := Options{Version: "9.8.7", Commit: "abc123", Created: "2026-01-02T03:04:05Z", Binaries: map[string]string{platform: bin},
		CACerts: certs, Repository: "ghcr.io/kferry/kferry", Out: filepath.Join(dir, "out")}
	if err := Build(o); err != nil {
		t.Fatal(err)
	}
	dynamic := o
	dynamic.Binaries = map[string]string{platform: "/bin/sh"}
	if err := Build(dynamic); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("image of a dynamically linked binary: err = %v, want a refusal naming CGO_ENABLED=0", err)
	}
	other := map[string]string{"amd64": "arm64", "arm64": "amd64"}[runtime.GOARCH]
	wrongArch := o
	wrongArch.Binaries = map[string]string{"linux/" + other: bin}
	if err := Build(wrongArch); err == nil || !strings.Contains(err.Error(), "GOARCH="+other) {
		t.Errorf("a %s binary as linux/%s: err = %v, want a refusal", runtime.GOARCH, other, err)
	}

	img, err := tarball.ImageFromPath(filepath.Join(o.Out, "kferry_linux_"+runtime.GOARCH+".tar"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "65532:65532" || strings.Join(cfg.Config.Entrypoint, " ") != "/kferry" || cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("config user %q entrypoint %q platform %s/%s, want 65532:65532, /kferry, %s", cfg.Config.User, cfg.Config.Entrypoint, cfg.OS, cfg.Architecture, platform)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.source":   "https://github.com/kferry/kferry",
		"org.opencontainers.image.version":  "9.8.7",
		"org.opencontainers.image.revision": "abc123",
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.created":  "2026-01-02T03:04:05Z",
	} {
		if got := cfg.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}

	files, headers := imageFiles(t, img)
	if h := headers["home/nonroot"]; h == nil || h.Uid != 65532 || h.Gid != 65532 || h.Mode&0o700 != 0o700 {
		t.Errorf("home/nonroot %+v: the user it runs as must own its home and working folder", h)
	}
	if h := headers["tmp"]; h == nil || h.Mode&0o1777 != 0o1777 {
		t.Errorf("tmp %+v, want mode 1777", h)
	}
	if cf, err := img.ConfigFile(); err != nil || len(cf.History) != 2 || !cf.History[1].Created.Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("history %+v (%v), want two entries dated -created", cf.History, err)
	}
	if !bytes.Contains(files["etc/ssl/certs/ca-certificates.crt"], []byte("BEGIN CERTIFICATE")) {
		t.Error("no CA certificates in the image")
	}
	if !strings.Contains(string(files["etc/passwd"]), "nonroot:x:65532:65532") {
		t.Errorf("passwd %q has no nonroot user", files["etc/passwd"])
	}
	extracted := filepath.Join(dir, "extracted-kferry")
	if err := os.WriteFile(extracted, files["kferry"], 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(extracted, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "9.8.7") {
		t.Errorf("the image's kferry version: %v\n%s", err, out)
	}

	// index.json holds one multi-platform index named by the version, which
	// `crane push` and `skopeo copy oci:…:9.8.7` take whole.
	outer, err := layout.ImageIndexFromPath(filepath.Join(o.Out, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	om, err := outer.IndexManifest()
	if err != nil || len(om.Manifests) != 1 || om.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "9.8.7" {
		t.Fatalf("index.json %+v (%v), want one index named 9.8.7", om, err)
	}
	idx, err := outer.ImageIndex(om.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Platform == nil || im.Manifests[0].Platform.Architecture != runtime.GOARCH {
		t.Fatalf("OCI index %+v, want one manifest for %s", im.Manifests, platform)
	}
	fromLayout, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	// The config's digest names the image in both forms (a docker tarball
	// does not keep the OCI manifest).
	digest, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if d, err := fromLayout.ConfigName(); err != nil || d != digest {
		t.Errorf("OCI layout holds config %s (%v), the tarball %s: not the same image", d, err, digest)
	}
	o.Out = filepath.Join(dir, "again")
	if err := Build(o); err != nil {
		t.Fatal(err)
	}
	again, err := tarball.ImageFromPath(filepath.Join(o.Out, "kferry_linux_"+runtime.GOARCH+".tar"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := again.ConfigName(); err != nil || d != digest {
		t.Errorf("second build: digest %s (%v), want %s: the build is not reproducible", d, err, digest)
	}
}

// imageFiles reads every regular file of img's flattened filesystem, and
// every entry's header.
func imageFiles(t *testing.T, img v1.Image) (map[string][]byte, map[string]*tar.Header) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string][]byte{}
	headers := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, headers
		}
		if err != nil {
			t.Fatal(err)
		}
		headers[strings.TrimSuffix(h.Name, "/")] = h
		if h.Typeflag == tar.TypeReg {
			body, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = body
		}
	}
}

// TestFromDist: goreleaser's metadata and artifact lists give the linux
// binaries (not the darwin or windows ones, nor archives), the version made
// tag-safe, the commit, and the date only when -created gave none.
func TestFromDist(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("metadata.json", `{"project_name":"kferry","version":"1.2.4-snapshot+abc","commit":"abc123","date":"2026-12-02T04:26:50.03Z"}`)
	write("artifacts.json", `[
	 {"name":"kferry","path":"dist/kferry_linux_amd64_v1/kferry","goos":"linux","goarch":"amd64","type":"Binary"},
	 {"name":"kferry","path":"dist/kferry_linux_arm64_v8.0/kferry","goos":"linux","goarch":"arm64","type":"Binary"},
	 {"name":"kferry","path":"dist/kferry_darwin_arm64_v8.0/kferry","goos":"darwin","goarch":"arm64","type":"Binary"},
	 {"name":"kferry_1.2.4_linux_amd64.tar.gz","path":"dist/kferry_1.2.4_linux_amd64.tar.gz","goos":"linux","goarch":"amd64","type":"Archive"}]`)
	o := Options{Binaries: map[string]string{}}
	if err := fromDist(&o, dir); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"linux/amd64": filepath.Join(dir, "kferry_linux_amd64_v1/kferry"), "linux/arm64": filepath.Join(dir, "kferry_linux_arm64_v8.0/kferry")}
	if len(o.Binaries) != len(want) || o.Binaries["linux/amd64"] != want["linux/amd64"] || o.Binaries["linux/arm64"] != want["linux/arm64"] {
		t.Errorf("binaries %v, want %v", o.Binaries, want)
	}
	if o.Version != "1.2.4-snapshot.abc" || o.Commit != "abc123" || o.Created != "2026-12-02T04:26:50Z" {
		t.Errorf("version %q commit %q created %q", o.Version, o.Commit, o.Created)
	}
	o = Options{Binaries: map[string]string{}, Created: "2026-01-01T00:00:00Z"}
	if err := fromDist(&o, dir); err != nil || o.Created != "2026-01-01T00:00:00Z" {
		t.Errorf("-created was overridden: %q, %v", o.Created, err)
	}
	write("artifacts.json", `[{"name":"kferry","path":"x","goos":"darwin","goarch":"arm64","type":"Binary"}]`)
	if err := fromDist(&Options{Binaries: map[string]string{}}, dir); err == nil || !strings.Contains(err.Error(), "no linux binary") {
		t.Errorf("no linux binary: %v", err)
	}
}
