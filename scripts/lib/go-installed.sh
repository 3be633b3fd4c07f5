# Sourced by the scripts that need Go tools at pinned versions (test-env.sh,
# golangci-lint.sh, release.sh); the caller defines log().

# cache_dir is where pinned tools are built once: KFERRY_CACHE_DIR, default
# ${XDG_CACHE_HOME:-$HOME/.cache}/kferry.
cache_dir() { echo "${KFERRY_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/kferry}"; }

# go_installed NAME MODULE VERSION OVERRIDE prints the path of the binary NAME,
# built from MODULE@VERSION with `go install` into the cache folder if needed,
# or OVERRIDE when that is set.
go_installed() {
	local name=$1 module=$2 version=$3 override=$4
	if [ -n "$override" ]; then
		echo "$override"
		return
	fi
	local dir
	dir=$(cache_dir)/$name-$version
	if [ ! -x "$dir/$name" ]; then
		log "building $name $version into $dir (takes a few minutes, once)"
		mkdir -p "$dir"
		# Outside any module, so the pinned version's own go.mod decides.
		(cd "$dir" && GOBIN=$dir GOFLAGS= "${GO:-go}" install "$module@$version") >&2 || true
	fi
	# Callers run this in $(…), where set -e does not stop them: a failed build
	# must fail them here, not later with a tool missing or, worse, another one
	# found on PATH.
	if [ ! -x "$dir/$name" ]; then
		log "could not build $name $version into $dir (see go's message above; check the network and GOPROXY, or set the override to a binary)"
		return 1
	fi
	echo "$dir/$name"
}
