#!/usr/bin/env bats
# make image: the Talos imager needs Docker, a daemon and the extension in a registry. None of
# that is asserted to exist here; these tests check that each missing piece is named, and that
# nothing runs without them. (The imager itself never runs in the tests.)

setup() {
  load helpers
  load registry
}

teardown() { registry_stop; }

@test "make image with no or an unknown PROFILE lists the profiles and fails" {
  run make -s image PROFILE=
  assert_failure
  assert_output --partial "usage: make image PROFILE=iso|raw|pxe|installer"
  run make -s image PROFILE=floppy
  assert_failure
  assert_output --partial 'got PROFILE="floppy"'
}

@test "without Docker and without REGISTRY, make image names both and fails" {
  DOCKER=/nonexistent/docker run make -s image PROFILE=iso
  assert_failure
  assert_output --partial "cannot build the iso media; missing:"
  assert_output --partial 'Docker: "/nonexistent/docker" is not installed'
  assert_output --partial "REGISTRY: the registry the imager pulls the extension from"
  refute_output --partial "running the Talos"
}

@test "with the docker command but no daemon, make image names the daemon" {
  command -v docker >/dev/null || skip "no docker command on this machine"
  DOCKER_HOST=unix:///nonexistent/docker.sock run make -s image PROFILE=raw
  assert_failure
  assert_output --partial "a Docker daemon: \"docker info\" reaches none at unix:///nonexistent/docker.sock"
}

@test "a registry that does not answer, or lacks the extension, is named with the command that fills it" {
  DOCKER=/nonexistent/docker run make -s image PROFILE=pxe REGISTRY=127.0.0.1:1/lab
  assert_failure
  assert_output --partial "the extension in the registry: 127.0.0.1:1/lab/fos1-extension:"
  assert_output --partial "connection refused"
  assert_output --partial "make extension-push REGISTRY=127.0.0.1:1/lab"

  registry_start "$BATS_TEST_TMPDIR/registry"
  DOCKER=/nonexistent/docker run make -s image PROFILE=installer REGISTRY="$REGISTRY_ADDR/lab" INSECURE=1
  assert_failure
  assert_output --partial "the extension in the registry: $REGISTRY_ADDR/lab/fos1-extension:"
}

@test "with the extension pushed, only Docker is left missing" {
  registry_start "$BATS_TEST_TMPDIR/registry"
  run make -s extension-push REGISTRY="$REGISTRY_ADDR/lab" INSECURE=1
  assert_success
  DOCKER=/nonexistent/docker run make -s image PROFILE=iso REGISTRY="$REGISTRY_ADDR/lab" INSECURE=1
  assert_failure
  assert_output --partial "Docker:"
  refute_output --partial "REGISTRY:"
  refute_output --partial "the extension in the registry"
}
