#!/usr/bin/env bats
# make extension: the Talos system extension as an OCI image layout tarball (hack/extension/).
# Built twice here (about 3 s each) and unpacked with umoci, a consumer of OCI layouts of its own.

setup_file() {
  load helpers
  [ -x dist/fos1 ] || { echo "dist/fos1 missing: make build" >&2; return 1; }
  hack/extension/build "$BATS_FILE_TMPDIR/a.tar"
  hack/extension/build "$BATS_FILE_TMPDIR/b.tar"
  mkdir "$BATS_FILE_TMPDIR/layout"
  tar -xf "$BATS_FILE_TMPDIR/a.tar" -C "$BATS_FILE_TMPDIR/layout"
  version=$(node -p 'require("./package.json").version')
  umoci unpack --image "$BATS_FILE_TMPDIR/layout:$version" "$BATS_FILE_TMPDIR/bundle" >/dev/null
}

setup() {
  load helpers
  load registry
  version=$(node -p 'require("./package.json").version')
  image=$BATS_FILE_TMPDIR/bundle/rootfs        # the image's filesystem, as Talos unpacks it
  svc=$image/rootfs/usr/local/lib/containers/fos1-agent
  spec=$image/rootfs/usr/local/etc/containers/fos1-agent.yaml
}

teardown() { registry_stop; }

yaml_get() { # FILE JS-EXPRESSION-ON-d
  node_modules/.bin/bun -e 'const d = require("yaml").parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(JSON.stringify(eval(process.argv[2])))' "$1" "$2"
}

@test "building twice gives the same bytes and the same image digest" {
  cmp "$BATS_FILE_TMPDIR/a.tar" "$BATS_FILE_TMPDIR/b.tar"
  run grep -oE 'sha256:[0-9a-f]{64}' "$BATS_FILE_TMPDIR/layout/index.json"
  assert_success
  [ "${#lines[@]}" -eq 1 ] || fail "index.json names ${#lines[@]} manifests"
}

@test "the image's filesystem is manifest.yaml and rootfs/, nothing else, all owned by root" {
  run ls -A "$image"
  assert_output $'manifest.yaml\nrootfs'
  run find "$image" ! -uid 0 -o ! -gid 0
  assert_output ""
}

@test "the manifest is v1alpha1, names fos1 with package.json's version and admits Talos TALOS_VERSION" {
  run yaml_get "$image/manifest.yaml" '[d.version, d.metadata.name, d.metadata.version, typeof d.metadata.author, typeof d.metadata.description]'
  assert_output "[\"v1alpha1\",\"fos1\",\"$version\",\"string\",\"string\"]"
  run yaml_get "$image/manifest.yaml" 'd.metadata.compatibility.talos.version'
  assert_output '">= v1.13.0"'
  talos=$(make -s -f Makefile -f - print-talos <<<'print-talos: ; @echo $(TALOS_VERSION)')
  run grep -F "TALOS_RELEASE = \"$talos\"" hack/extension/talos-rules.ts
  assert_success
}

@test "the rootfs has only regular files, directories and symlinks, none world-writable, all under /usr/local" {
  run find "$image/rootfs" ! -type d ! -type f ! -type l
  assert_output ""
  run find "$image/rootfs" ! -type l -perm -0002
  assert_output ""
  run bash -c "cd '$image' && find rootfs ! -type d | grep -v '^rootfs/usr/local/'"
  assert_output ""
  run node_modules/.bin/bun hack/extension/validate.ts "$image"
  assert_success
}

@test "the service spec runs fos1 agent through setpriv on the ExtensionServiceConfig's file, with bpffs shared, restarting always" {
  run yaml_get "$spec" '[d.name, d.container.entrypoint, d.restart, d.depends]'
  assert_output '["fos1-agent","/usr/bin/setpriv","always",[{"configuration":true}]]'
  run yaml_get "$spec" 'd.container.args.slice(d.container.args.indexOf("--") + 1)'
  assert_output '["/usr/local/bin/fos1","agent","--file","/usr/local/etc/fos1/config.yaml","--state-dir","/var/lib/fos1","--cluster","talos"]'
  run yaml_get "$spec" 'd.container.mounts.map((m) => `${m.source}>${m.destination}:${m.options.join(",")}`)'
  assert_output '["/sys/fs/bpf>/sys/fs/bpf:rbind,rshared,rw","/var/lib/fos1>/var/lib/fos1:rbind,rw","/var/lib/dhcpcd>/var/lib/dhcpcd:rbind,rw","/run/dhcpcd>/run/dhcpcd:rbind,rw","/system/run/machined>/system/run/machined:rbind,ro"]'
  # Every flag the spec passes is one fos1 agent takes.
  usage=$(dist/fos1 agent --help)
  for flag in $(yaml_get "$spec" 'd.container.args.slice(d.container.args.indexOf("--") + 2).filter((a) => a.startsWith("--")).join(" ")' | tr -d '"'); do
    [[ $usage == *"$flag"* ]] || fail "fos1 agent does not take $flag"
  done
}

@test "the packed setpriv, with the spec's arguments, leaves root exactly the documented capabilities and no way to gain others" {
  own=$(yaml_get "$spec" 'd.container.args.slice(0, d.container.args.indexOf("--")).join(" ")' | tr -d '"')
  # What the process it starts holds: that process is setpriv again, printing its own state.
  # shellcheck disable=SC2086 # the spec's arguments, one word each
  run unshare --mount sh -c "mount -t proc proc '$svc/proc' && chroot '$svc' /usr/bin/setpriv $own -- /usr/bin/setpriv -d"
  assert_success
  assert_line "Inheritable capabilities: [none]"
  assert_line "Ambient capabilities: [none]"
  assert_line "no_new_privs: 1"
  kept=$(sed -n 's/^Capability bounding set: //p' <<<"$output" | tr ',' '\n' | sort | paste -sd,)
  # A bounding set only shrinks: where this machine's own lacks one the agent documents (a
  # container without cap_bpf, say), the service cannot hold it either.
  ours=$(setpriv -d | sed -n 's/^Capability bounding set: //p' | tr ',' '\n')
  documented=$(node_modules/.bin/bun -e 'import { AGENT_CAPABILITIES } from "./hack/extension/least-privilege"; console.log(AGENT_CAPABILITIES.join("\n"))' | grep -Fxf <(echo "$ours") | sort | paste -sd,)
  [ -n "$kept" ] && [ "$kept" = "$documented" ] || fail "bounding set $kept, documented (of this machine's) $documented"
}

@test "a read-only bind of a folder still lets a process connect() to the unix socket in it (machined's mount)" {
  d=$BATS_TEST_TMPDIR
  mkdir "$d/src" "$d/ro"
  python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept(); c.sendall(b"hello"); c.close()' "$d/src/machine.sock" &
  for _ in $(seq 50); do [ -S "$d/src/machine.sock" ] && break; sleep 0.1; done
  run unshare --mount sh -ec '
    mount --bind "$1/src" "$1/ro" && mount -o remount,bind,ro "$1/ro"
    if touch "$1/ro/x" 2>/dev/null; then echo "the folder is writable"; exit 1; fi
    python3 -c "import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print(s.recv(5).decode())" "$1/ro/machine.sock"' sh "$d"
  wait
  assert_success
  assert_output "hello"
}

@test "ip, nft, dhcpcd and dnsmasq run from the service's own root with the libraries packed beside them" {
  run chroot "$svc" /usr/sbin/ip -V
  assert_success
  assert_output --partial "iproute2"
  run chroot "$svc" /usr/sbin/nft --version
  assert_success
  assert_output --regexp '^nftables v[0-9]'
  run chroot "$svc" /usr/sbin/dhcpcd --version
  assert_success
  assert_output --regexp '^dhcpcd [0-9]'
  # dnsmasq seeds its random numbers from /dev/urandom: the container gets containerd's /dev.
  run unshare --mount sh -c "mount --rbind /dev '$svc/dev' && chroot '$svc' /usr/sbin/dnsmasq --version"
  assert_success
  assert_output --regexp '^Dnsmasq version [0-9]'
  # dnsmasq becomes nobody once its sockets are open: the root names that user.
  run grep -c '^nobody:x:65534:65534:' "$svc/etc/passwd"
  assert_output 1
  # dhcpcd's privilege separation: its user, and that user's home to chroot into, empty.
  run grep -c '^dhcpcd:x:[0-9]*:65534:[^:]*:/usr/lib/dhcpcd:' "$svc/etc/passwd"
  assert_output 1
  run find "$svc/usr/lib/dhcpcd" -mindepth 1
  assert_success
  assert_output ""
  # Found by name, through the spec's PATH, as fos1 runs them.
  run chroot "$svc" /usr/sbin/ip -json link show lo
  assert_success
}

@test "fos1 runs in the service's root and loads the libbpf packed there; its eBPF object is where it looks" {
  # Bun reads its own executable through /proc: the container has one, the chroot gets one.
  run unshare --mount sh -c "mount -t proc proc '$svc/proc' && chroot '$svc' /usr/local/bin/fos1 version"
  assert_success
  assert_output --regexp 'libbpf +v1\.'
  cmp dist/bpf/xdp_filter.o "$svc/usr/local/lib/fos1/bpf/xdp_filter.o"
}

@test "the validator refuses what Talos refuses, and an agent service with more privilege than fos1 uses, one line per problem" {
  mini=$BATS_TEST_TMPDIR/mini
  make_mini() {
    rm -rf "$mini"
    mkdir -p "$mini/rootfs/usr/local/etc/containers" "$mini/rootfs/usr/local/lib/containers/fos1-agent/usr/local/bin" "$mini/rootfs/usr/local/lib/containers/fos1-agent/usr/bin"
    cp "$image/manifest.yaml" "$mini/"
    cp "$spec" "$mini/rootfs/usr/local/etc/containers/"
    install -m 0755 /bin/true "$mini/rootfs/usr/local/lib/containers/fos1-agent/usr/local/bin/fos1"
    install -m 0755 /bin/true "$mini/rootfs/usr/local/lib/containers/fos1-agent/usr/bin/setpriv"
  }
  make_mini
  run node_modules/.bin/bun hack/extension/validate.ts "$mini"
  assert_success

  make_mini; mkfifo "$mini/rootfs/usr/local/pipe"
  run node_modules/.bin/bun hack/extension/validate.ts "$mini"
  assert_failure
  assert_output --partial "/usr/local/pipe: is a special file"

  make_mini; chmod o+w "$mini/rootfs/usr/local/lib"
  run node_modules/.bin/bun hack/extension/validate.ts "$mini"
  assert_output --partial "/usr/local/lib: is world-writable (mode 0757)"

  make_mini; mkdir -p "$mini/rootfs/etc"; echo x >"$mini/rootfs/etc/motd"
  run node_modules/.bin/bun hack/extension/validate.ts "$mini"
  assert_output --partial "/etc/motd: is outside the paths Talos allows"

  make_mini; sed -i 's/^version: v1alpha1/version: v1/' "$mini/manifest.yaml"
  run node_modules/.bin/bun hack/extension/validate.ts "$mini"
  assert_output --partial 'manifest.yaml: version must be "v1alpha1"'

  make_mini; sed -i 's/version: ">= v1.13.0"/version: ">= v1.14.0"/' "$mini/manifest.yaml"
  run node_modules/.bin/bun hack/extension/validate.ts "$mini"
  assert_output --partial 'excludes Talos v1.13.9'

  make_mini; sed -i 's/^  - configuration: true/  - {configuration: true, time: true}/' "$mini/rootfs/usr/local/etc/containers/fos1-agent.yaml"
  run node_modules/.bin/bun hack/extension/validate.ts "$mini"
  assert_output --partial "depends[0] must set exactly one of service, path, network, time, configuration; sets configuration and time"

  make_mini; sed -i 's/^restart: always/restart: sometimes/' "$mini/rootfs/usr/local/etc/containers/fos1-agent.yaml"
  run node_modules/.bin/bun hack/extension/validate.ts "$mini"
  assert_output --partial "restart must be one of always, never, untilSuccess"

  make_mini; rm "$mini/rootfs/usr/local/lib/containers/fos1-agent/usr/bin/setpriv"
  run node_modules/.bin/bun hack/extension/validate.ts "$mini"
  assert_output --partial "container.entrypoint /usr/bin/setpriv is not an executable file"

  make_mini; sed -i 's|^  mounts:|  mounts:\n    - {source: /run, destination: /run, type: bind, options: [rbind, rw]}|' "$mini/rootfs/usr/local/etc/containers/fos1-agent.yaml"
  run node_modules/.bin/bun hack/extension/validate.ts "$mini"
  assert_failure
  assert_output --partial "mounts the host's /run, which fos1 does not need"

  make_mini; sed -i 's|+setpcap$|+setpcap,+sys_module|' "$mini/rootfs/usr/local/etc/containers/fos1-agent.yaml"
  run node_modules/.bin/bun hack/extension/validate.ts "$mini"
  assert_failure
  assert_output --partial "keeps sys_module, which is not one fos1 uses"

  make_mini; touch "$mini/README"
  run node_modules/.bin/bun hack/extension/validate.ts "$mini"
  assert_output --partial "README: unexpected file at the extension's root"
}

@test "make extension-push without REGISTRY says where to push and fails" {
  run make -s extension-push REGISTRY=
  assert_failure
  assert_output --partial "REGISTRY is not set"
}

@test "make extension-push puts the image in a registry under the digest it was built with" {
  registry_start "$BATS_TEST_TMPDIR/registry"
  run make -s extension-push REGISTRY="$REGISTRY_ADDR/lab" INSECURE=1
  assert_success
  # make rebuilds dist/fos1 when the sources moved: the digest to expect is this build's.
  built=$(grep -oE 'manifest sha256:[0-9a-f]{64}' <<<"$output" | cut -d' ' -f2)
  [ -n "$built" ] || fail "make extension did not print the manifest digest"
  assert_output --partial "$REGISTRY_ADDR/lab/fos1-extension:$version@$built"
  run skopeo inspect --tls-verify=false "docker://$REGISTRY_ADDR/lab/fos1-extension:$version"
  assert_success
  assert_output --partial "\"Digest\": \"$built\""
}
