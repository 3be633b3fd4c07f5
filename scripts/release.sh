#!/usr/bin/env bash
# release.sh [--host | --tagged]: `make release-snapshot`. Builds a release of the checkout into dist/
# with goreleaser (.goreleaser.yaml: static binaries for linux, darwin and windows
# on amd64 and arm64, archives with man pages and completions, a CycloneDX SBOM per
# archive, checksums.txt), then the container image from its linux binaries
# (deploy/image: dist/image/oci and one docker-loadable tarball per platform),
# then checks what it built: every archive and SBOM is there, checksums.txt
# verifies, the host's archive holds a binary that prints the snapshot's version,
# the image tarballs exist. Nothing is published and no token is needed.
#
# --host builds and checks the host's platform only (and the image for it when
# the host is linux): what `make test` runs, as the six cross builds take
# minutes each on a small machine. --tagged builds the release of the tag on
# HEAD (a clean tree; versions without "-snapshot"), for the maintainer who then
# uploads dist/ and pushes the image (docs/deploy.md).
#
# goreleaser and cyclonedx-gomod are pinned below and built with `go install`
# into the cache folder when missing (a few minutes, once), like golangci-lint.
# Environment: KFERRY_CACHE_DIR; KFERRY_GORELEASER and KFERRY_CYCLONEDX_GOMOD
# (binary paths) skip those builds.
set -euo pipefail

GORELEASER_VERSION=v2.15.1
CYCLONEDX_GOMOD_VERSION=v1.10.0
GO=${GO:-go}

log() { echo "release.sh: $*" >&2; }
fail() {
	log "FAIL: $*"
	exit 1
}

cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib/go-installed.sh

host_os=$("$GO" env GOOS) host_arch=$("$GO" env GOARCH)
platforms=(linux_amd64 linux_arm64 darwin_amd64 darwin_arm64 windows_amd64 windows_arm64)
config=.goreleaser.yaml
dist=dist
mode=${1:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
case $mode in
"") ;;
--host)
	# Into build/release-check, so that a release in dist/ survives `make test`.
	platforms=("${host_os}_$host_arch")
	dist=build/release-check
	config=$tmp/goreleaser.yaml
	sed -e "s/^    goos: .*/    goos: [$host_os]/" -e "s/^    goarch: .*/    goarch: [$host_arch]/" .goreleaser.yaml >"$config"
	echo "dist: $dist" >>"$config"
	grep -q "^    goos: \[$host_os\]" "$config" || fail "could not narrow .goreleaser.yaml's goos to $host_os"
	;;
--tagged)
	tag=$(git describe --tags --exact-match HEAD 2>/dev/null) || fail "HEAD has no tag: tag it (git tag v1.2.3) or run without --tagged for a snapshot"
	[ -z "$(git status --porcelain)" ] || fail "the tree has uncommitted changes: a release is built from the tagged commit only"
	log "release $tag"
	;;
*) fail "unknown argument $mode: want none (a snapshot of every platform), --host or --tagged" ;;
esac
[ -z "$(git status --porcelain --untracked-files=no)" ] || log "WARNING: uncommitted changes: the snapshot's version ends in .dirty"

# goreleaser reads the remote's URL and, without one (a local clone), forgets
# the commit too: lend it the checkout's path, through git's environment.
if [ -z "$(git remote)" ]; then
	export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0="$PWD"
fi

goreleaser=$(go_installed goreleaser github.com/goreleaser/goreleaser/v2 "$GORELEASER_VERSION" "${KFERRY_GORELEASER:-}") || fail "no goreleaser"
cdx=$(go_installed cyclonedx-gomod github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod "$CYCLONEDX_GOMOD_VERSION" "${KFERRY_CYCLONEDX_GOMOD:-}") || fail "no cyclonedx-gomod"
# .goreleaser.yaml calls cyclonedx-gomod by name.
PATH="$(dirname "$cdx"):$PATH"
export PATH

if [ "$mode" = --tagged ]; then
	log "goreleaser $GORELEASER_VERSION: release $tag into $dist/ (nothing is published)"
	"$goreleaser" release --clean --skip=publish,announce --config "$config"
else
	log "goreleaser $GORELEASER_VERSION: snapshot of $(git rev-parse --short HEAD) into $dist/"
	"$goreleaser" release --snapshot --clean --config "$config"
fi

log "container image into $dist/image"
[ -n "$(grep -o '"goos":"linux"' "$dist/artifacts.json")" ] || fail "no linux binary in $dist/: the image needs one (--host on $host_os builds none)"
"$GO" run ./deploy/image -dist "$dist" -out "$dist/image" -created "$(git log -1 --format=%cI)"

# The check. metadata.json is one line of JSON; its "version" is the snapshot's.
version=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' "$dist/metadata.json")
[ -n "$version" ] || fail "no version in $dist/metadata.json"
for platform in "${platforms[@]}"; do
	ext=tar.gz
	[ "${platform%%_*}" = windows ] && ext=zip
	archive=$dist/kferry_${version}_${platform}.$ext
	[ -s "$archive" ] || fail "no archive $archive"
	grep -q " kferry_${version}_${platform}.$ext\$" "$dist/checksums.txt" || fail "checksums.txt does not list $archive"
	sbom=$dist/kferry_${version}_${platform}.cdx.json
	[ -s "$sbom" ] || fail "no SBOM $sbom"
	grep -q '"bomFormat": *"CycloneDX"' "$sbom" || fail "$sbom is not a CycloneDX document"
	grep -q 'github.com/twmb/franz-go' "$sbom" || fail "$sbom does not list franz-go, which every binary links"
	grep -q "pkg:golang/github.com/kferry/kferry@v$version?[^\"]*goos=${platform%%_*}" "$sbom" ||
		fail "$sbom does not name kferry v$version for ${platform%%_*} in its package URL"
done
(cd "$dist" && sha256sum --quiet -c checksums.txt) || fail "$dist/checksums.txt does not verify"

host=${host_os}_$host_arch
unpacked=$tmp/archive
mkdir "$unpacked"
tar -xzf "$dist/kferry_${version}_${host}.tar.gz" -C "$unpacked"
for f in kferry LICENSE README.md man/man1/kferry.1 man/man1/kferry-export.1 completions/kferry.bash completions/kferry.zsh completions/kferry.fish; do
	[ -e "$unpacked/$f" ] || fail "the $host archive has no $f"
done
out=$("$unpacked/kferry" version) || fail "the $host binary does not run: $out"
grep -q "$version" <<<"$out" || fail "the $host binary says $out, not version $version"
for platform in "${platforms[@]}"; do
	case $platform in linux_*)
		[ -s "$dist/image/kferry_$platform.tar" ] || fail "no image tarball $dist/image/kferry_$platform.tar"
		;;
	esac
done
[ -s "$dist/image/oci/index.json" ] || fail "no OCI layout in $dist/image/oci"

grep -q "$(git rev-parse HEAD)" <<<"$out" || fail "the $host binary does not name commit $(git rev-parse HEAD): $out"

log "ok: kferry $version: ${#platforms[@]} archive(s) and SBOM(s), checksums verify, the $host binary runs, image in $dist/image"
echo "$out"
