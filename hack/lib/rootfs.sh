# Copies programs, with the shared libraries ldd lists, into a root filesystem laid out with
# merged /usr (bin, sbin, lib, lib64 are links into usr/), so they run there: the lab's
# initramfs (hack/lab/build-initramfs) and the Talos extension service's own root
# (hack/extension/build). Sourced, not run.

# rootfs_copy_file ROOT FILE: FILE's content (links resolved) at the same path below ROOT/usr.
# Under merged /usr, /lib/x.so and /usr/lib/x.so are one file: it always lands below usr/.
rootfs_copy_file() {
  local dest=$1/usr/${2#/usr/}
  [ -e "$dest" ] || install -D -m 0755 "$(readlink -f "$2")" "$dest"
}

# rootfs_copy_libs_of ROOT FILE: the libraries FILE links, and the dynamic loader.
rootfs_copy_libs_of() {
  local lib libs
  # A data file (dnsmasq's trust anchors) or a static binary links nothing: ldd says so and fails.
  libs=$(ldd "$2" 2>/dev/null | grep -oE '/[^ ]+') || return 0
  while read -r lib; do rootfs_copy_file "$1" "$lib"; done <<<"$libs"
}

# rootfs_copy_with_libs ROOT FILE: both of the above.
rootfs_copy_with_libs() {
  rootfs_copy_file "$1" "$2"
  rootfs_copy_libs_of "$1" "$2"
}

# rootfs_merged_usr ROOT: the top-level links of merged /usr.
rootfs_merged_usr() {
  local d
  mkdir -p "$1"/usr/{bin,sbin,lib,lib64}
  for d in bin sbin lib lib64; do ln -sfn usr/$d "$1/$d"; done
}
