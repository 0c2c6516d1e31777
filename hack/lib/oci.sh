# OCI images without a Docker daemon: a root filesystem packed as a one-layer OCI image layout
# tarball with umoci, reproducibly, and such a tarball pushed with skopeo. Used by the Talos
# extension (hack/extension/) and the controller's image (hack/controller-image/). Sourced, not run.
# Reproducible: every mtime is SOURCE_DATE_EPOCH (default: the last commit's time), entries
# are sorted, owners are 0:0, modes are normalised, and nothing records when it was built;
# the image is tagged with package.json's version.

OCI_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# oci_version: package.json's version.
oci_version() {
  "$OCI_REPO/node_modules/.bin/bun" -e 'console.log(require(process.argv[1]).version)' "$OCI_REPO/package.json"
}

# oci_normalise_modes DIR: modes do not depend on the umask or on how files were copied.
oci_normalise_modes() {
  find "$1" -type d -exec chmod 0755 {} +
  find "$1" -type f -perm /0111 -exec chmod 0755 {} +
  find "$1" -type f ! -perm /0111 -exec chmod 0644 {} +
}

# oci_tar EPOCH TAR-ARGS…: GNU tar the reproducible way.
oci_tar() {
  local epoch=$1
  shift
  tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --format=pax \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime "$@"
}

# oci_pack OUT DIR BUILT-BY [UMOCI-CONFIG-OPTION…]: DIR's entries as the one layer of an image
# tagged with the version, its config set by the options (entrypoint, user, labels, …), written
# as an OCI image layout tarball OUT; prints the manifest's digest. umoci compresses the layer,
# writes the config with fixed times, and gc drops the blobs of the intermediate steps.
oci_pack() (
  set -euo pipefail
  local out=$1 dir=$2 built_by=$3
  shift 3
  local version epoch created work layout
  version=$(oci_version)
  epoch=${SOURCE_DATE_EPOCH:-$(git -C "$OCI_REPO" log -1 --format=%ct)}
  created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  local entries=()
  mapfile -t entries < <(cd "$dir" && LC_ALL=C ls -A)
  oci_tar "$epoch" -C "$dir" -cf "$work/layer.tar" "${entries[@]}"
  layout=$work/oci
  umoci init --layout "$layout"
  umoci new --image "$layout:$version"
  umoci raw add-layer --image "$layout:$version" --history.created "$created" \
    --history.created_by "$built_by (fos1 $version)" "$work/layer.tar"
  umoci config --image "$layout:$version" --no-history --created "$created" --author "the fos1 project" \
    --config.label "org.opencontainers.image.version=$version" "$@"
  umoci gc --layout "$layout"
  mkdir -p "$(dirname "$out")"
  oci_tar "$epoch" -C "$layout" -cf "$out.tmp" oci-layout index.json blobs
  mv "$out.tmp" "$out"
  grep -oE 'sha256:[0-9a-f]{64}' "$layout/index.json" | head -1
)

# oci_push TARGET NAME TAR: the image of TAR (make TARGET built it) to $REGISTRY/NAME:VERSION
# (INSECURE=1: a plain-HTTP registry), then its reference with the digest on stderr.
oci_push() {
  local target=$1 name=$2 tar=$3
  if [ -z "${REGISTRY:-}" ]; then
    echo "$target: REGISTRY is not set; say where to push: make $target REGISTRY=ghcr.io/you (add INSECURE=1 for a plain-HTTP registry such as localhost:5000)" >&2
    return 2
  fi
  local version ref digest
  version=$(oci_version)
  ref=$REGISTRY/$name:$version
  digest=$(mktemp)
  skopeo copy --digestfile "$digest" ${INSECURE:+--dest-tls-verify=false} "oci-archive:$tar:$version" "docker://$ref" || { rm -f "$digest"; return 1; }
  echo "$target: $ref@$(cat "$digest")" >&2
  rm -f "$digest"
}
