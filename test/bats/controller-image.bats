#!/usr/bin/env bats
# make controller-image: the controller's container image as an OCI image layout tarball
# (hack/controller-image/, packed by hack/lib/oci.sh like the extension). Built twice here
# (about 3 s each) and unpacked with umoci; its config read by skopeo.

setup_file() {
  load helpers
  [ -x dist/fos1 ] || { echo "dist/fos1 missing: make build" >&2; return 1; }
  hack/controller-image/build "$BATS_FILE_TMPDIR/a.tar"
  hack/controller-image/build "$BATS_FILE_TMPDIR/b.tar"
  mkdir "$BATS_FILE_TMPDIR/layout"
  tar -xf "$BATS_FILE_TMPDIR/a.tar" -C "$BATS_FILE_TMPDIR/layout"
  version=$(node -p 'require("./package.json").version')
  umoci unpack --image "$BATS_FILE_TMPDIR/layout:$version" "$BATS_FILE_TMPDIR/bundle" >/dev/null
  skopeo inspect --config "oci:$BATS_FILE_TMPDIR/layout:$version" >"$BATS_FILE_TMPDIR/config.json"
}

setup() {
  load helpers
  load registry
  version=$(node -p 'require("./package.json").version')
  root=$BATS_FILE_TMPDIR/bundle/rootfs
}

teardown() { registry_stop; }

image_config() { # JS-EXPRESSION-ON-c (the image's config)
  node -e 'const c = require(process.argv[1]); console.log(JSON.stringify(eval(process.argv[2])))' "$BATS_FILE_TMPDIR/config.json" "$1"
}

deployment() { # FILE JS-EXPRESSION-ON-d: the fos1-controller Deployment of a manifest stream
  node_modules/.bin/bun -e 'const y = require("yaml"); const d = y.parseAllDocuments(require("fs").readFileSync(process.argv[1], "utf8")).map((x) => x.toJS()).find((o) => o?.kind === "Deployment" && o.metadata.name === "fos1-controller"); console.log(JSON.stringify(eval(process.argv[2])))' "$1" "$2"
}

# The image's command line, run as the image's user on its root mounted read-only (as the
# Deployment's readOnlyRootFilesystem has it), with /proc (Bun reads its own executable there).
run_in_image() { # EXTRA-ARGS…
  local user argv
  user=$(node -p 'require(process.argv[1]).config.User' "$BATS_FILE_TMPDIR/config.json")
  mapfile -t argv < <(node -p 'const { Entrypoint, Cmd } = require(process.argv[1]).config; [...Entrypoint, ...Cmd].join("\n")' "$BATS_FILE_TMPDIR/config.json")
  run unshare --mount sh -c 'root=$1; user=$2; shift 2
    mount --bind "$root" "$root" && mount -o remount,bind,ro "$root" && mount -t proc proc "$root/proc" &&
    exec env -i PATH=/usr/local/bin:/usr/bin HOME=/nonexistent /usr/sbin/chroot --userspec="$user" "$root" "$@"' \
    sh "$root" "$user" "${argv[@]}" "$@"
}

@test "building twice gives the same bytes and the same image digest" {
  cmp "$BATS_FILE_TMPDIR/a.tar" "$BATS_FILE_TMPDIR/b.tar"
  run grep -oE 'sha256:[0-9a-f]{64}' "$BATS_FILE_TMPDIR/layout/index.json"
  assert_success
  [ "${#lines[@]}" -eq 1 ] || fail "index.json names ${#lines[@]} manifests"
}

@test "the image runs fos1 controller as the Deployment's non-root user; the Deployment's args keep the command" {
  run image_config '[c.config.Entrypoint, c.config.Cmd]'
  assert_output '[["/usr/local/bin/fos1"],["controller"]]'
  pod_user=$(deployment deploy/manifests/fos1-controller.yaml '(({ runAsNonRoot, runAsUser, runAsGroup }) => runAsNonRoot && `${runAsUser}:${runAsGroup}`)(d.spec.template.spec.securityContext)')
  [[ $pod_user =~ ^\"[1-9][0-9]*:[1-9][0-9]*\"$ ]] || fail "the Deployment runs as $pod_user, not a non-root user and group"
  run image_config 'c.config.User'
  assert_output "$pod_user"
  # Kubernetes' args replace the image's command, not its entrypoint.
  run deployment deploy/manifests/fos1-controller.yaml 'd.spec.template.spec.containers[0].args[0]'
  assert_output '"controller"'
  run grep -E '^[^:]*:x:65532:65532:' "$root/etc/passwd"
  assert_success
}

@test "the image holds fos1, the libraries it links and its user, nothing else: no shell" {
  cmp dist/fos1 "$root/usr/local/bin/fos1"
  linked=$(ldd dist/fos1 | grep -oE '/[^ ]+' | xargs -n1 basename | sort)
  run bash -c "cd '$root' && find . ! -type d ! -type l | sort"
  assert_success
  for f in "${lines[@]}"; do
    case $f in
      ./usr/local/bin/fos1 | ./etc/passwd | ./etc/group) ;;
      *) grep -qxF "$(basename "$f")" <<<"$linked" || fail "$f is in the image; fos1 does not link it" ;;
    esac
  done
  [ "${#lines[@]}" -eq $(($(wc -l <<<"$linked") + 3)) ] || fail "expected fos1, passwd, group and $(wc -l <<<"$linked") libraries: ${lines[*]}"
  for sh in bin/sh bin/bash usr/bin/sh usr/bin/bash; do [ ! -e "$root/$sh" ] || fail "$sh is in the image"; done
}

@test "fos1 controller --help runs from the image's root, as its user, on a read-only root" {
  run_in_image --help
  assert_success
  assert_output --partial "usage: fos1 controller"
  assert_output --partial "leader election"
}

@test "fos1 controller in the image, with no cluster to talk to, says so and exits 1" {
  run_in_image
  assert_failure 1
  assert_output --partial "no Kubernetes API to talk to"
}

@test "make controller-image-push without REGISTRY says where to push and fails" {
  run make -s controller-image-push REGISTRY=
  assert_failure
  assert_output --partial "controller-image-push: REGISTRY is not set"
}

@test "make controller-image-push puts the image in a registry under its digest; make talos-config REGISTRY=… names that image" {
  registry_start "$BATS_TEST_TMPDIR/registry"
  run make -s controller-image-push REGISTRY="$REGISTRY_ADDR/lab" INSECURE=1
  assert_success
  # make rebuilds dist/fos1 when the sources moved: the digest to expect is this build's.
  built=$(grep -oE 'manifest sha256:[0-9a-f]{64}' <<<"$output" | cut -d' ' -f2)
  [ -n "$built" ] || fail "make controller-image did not print the manifest digest"
  ref=$REGISTRY_ADDR/lab/fos1-controller:$version
  assert_output --partial "$ref@$built"
  run skopeo inspect --tls-verify=false "docker://$ref"
  assert_success
  assert_output --partial "\"Digest\": \"$built\""

  # The Deployment that make talos-config renders runs exactly what was pushed.
  TALOS_CONFIG_OUT=$BATS_TEST_TMPDIR/talos run make -s talos-config REGISTRY="$REGISTRY_ADDR/lab"
  assert_success
  assert_output --partial "runs $ref"
  node_modules/.bin/bun -e 'const y = require("yaml"); const c = y.parseAllDocuments(require("fs").readFileSync(process.argv[1], "utf8")).map((d) => d.toJS()).find((d) => d?.version === "v1alpha1"); process.stdout.write(c.cluster.inlineManifests.find((m) => m.name === "fos1-controller").contents)' \
    "$BATS_TEST_TMPDIR/talos/controlplane.yaml" >"$BATS_TEST_TMPDIR/controller.yaml"
  run deployment "$BATS_TEST_TMPDIR/controller.yaml" 'd.spec.template.spec.containers[0].image'
  assert_output "\"$ref\""
}
