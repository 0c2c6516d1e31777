#!/usr/bin/env bats
# make build and hack/setup, as a new user meets them.

setup() { load helpers; }

@test "dist/fos1 is one executable that runs with nothing but libc" {
  [ -x dist/fos1 ] || fail "dist/fos1 missing: make build"
  run ldd dist/fos1
  refute_output --partial libbpf
  run env FOS1_LIBBPF=/nonexistent dist/fos1 --help
  assert_success
  assert_output --partial "usage: fos1 COMMAND"
}

@test "dist/fos1 is stamped with the commit it was built from" {
  run dist/fos1 version -o json
  assert_success
  commit=$(git rev-parse --short=12 HEAD)
  assert_output --partial "\"commit\": \"$commit"
}

@test "the eBPF rule builds an object for the BPF target with BTF for its program and map" {
  run make -s BPF_DIR=test/bats/fixtures/bpf BPF_OUT="$BATS_TEST_TMPDIR/bpf" bpf
  assert_success
  obj=$BATS_TEST_TMPDIR/bpf/xdp_count.o
  run file "$obj"
  assert_output --partial "eBPF"
  run bpftool btf dump file "$obj"
  assert_success
  assert_output --partial "FUNC 'xdp_count'"
  assert_output --partial "VAR 'seen'"
}

@test "hack/setup is idempotent: a second run installs nothing" {
  run hack/setup
  assert_success
  assert_output "setup: ready"
}
