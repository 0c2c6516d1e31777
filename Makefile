# fos1 — every target installs what it needs first (hack/setup is idempotent and quick when
# nothing is missing), so a fresh clone needs no manual step.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

BUN      := node_modules/.bin/bun
ARCH     := $(shell uname -m)
COMMIT   := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
SRC      := $(shell find src -name '*.ts' -o -name '*.proto') package.json package-lock.json tsconfig.json
# What the executable was built from, byte for byte: a config it validated stays valid for it.
SRC_DIGEST := $(shell sha256sum $(sort $(SRC)) | sha256sum | cut -c1-16)
BPF_DIR  ?= bpf
BPF_OUT  ?= dist/bpf
BPF_SRC  := $(wildcard $(BPF_DIR)/*.c)
BPF_OBJ  := $(patsubst $(BPF_DIR)/%.c,$(BPF_OUT)/%.o,$(BPF_SRC))
LAB_IMG  := .cache/lab/initramfs.cpio
# Talos: the release the extension, the patches and the images are made for
# (hack/extension/talos-rules.ts TALOS_RELEASE, the schema in ../shared/schemas/talos).
TALOS_VERSION ?= v1.13.9
EXT_TAR  := dist/fos1-extension.oci.tar
CTL_TAR  := dist/fos1-controller.oci.tar

.PHONY: setup build generate crds bpf typecheck test test-unit test-bats test-lab demo bench lab-image clean
.PHONY: extension extension-push controller-image controller-image-push image talos-config
.NOTPARALLEL: setup

setup:
	@hack/setup

build: setup dist/fos1 bpf

bpf: $(BPF_OBJ)

# Code generated from the one schema source (committed; test/unit/generated.test.ts keeps it current),
# and the cluster manifests from theirs (deploy/manifests/; test/unit/deploy-manifests.test.ts).
generate: setup
	$(BUN) hack/generate.ts
	$(BUN) hack/generate-deploy.ts

# The CRDs of every kind (deploy/crds/), written by the same generator.
crds: generate

# The executable carries the commit it was built from: rebuild when HEAD moves.
.cache/commit: FORCE
	@mkdir -p $(@D); [ "$$(cat $@ 2>/dev/null)" = "$(COMMIT)" ] || echo "$(COMMIT)" >$@
FORCE:

# Router boxes often lack AVX2: always the baseline x64 target. Bytecode: the bundle is parsed
# and compiled when the executable is built, not at every start (`fos1 version` 0.11 s → 0.01 s).
dist/fos1: $(SRC) .cache/commit | setup
	@mkdir -p dist
	$(BUN) build --compile --bytecode --target=bun-linux-x64-baseline \
	  --define 'process.env.FOS1_COMMIT="$(COMMIT)"' --define 'process.env.FOS1_SOURCE_DIGEST="$(SRC_DIGEST)"' \
	  src/main.ts --outfile $@

# CO-RE objects with BTF (-g); the kernel headers of this machine's linux-libc-dev.
BPF_CFLAGS := -O2 -g -Wall -Werror -target bpf -I/usr/include/$(ARCH)-linux-gnu -I$(BPF_DIR)
$(BPF_OUT)/%.o: $(BPF_DIR)/%.c $(wildcard $(BPF_DIR)/*.h) | setup
	@mkdir -p $(@D)
	clang $(BPF_CFLAGS) -c $< -o $@

typecheck: setup
	$(BUN) x tsc --noEmit -p .

lab-image: $(LAB_IMG)
$(LAB_IMG): dist/fos1 $(BPF_OBJ) $(wildcard hack/lab/*) | setup
	hack/lab/build-initramfs $@

# The Talos system extension as an OCI image layout tarball: no Docker daemon, reproducible.
extension: build
	hack/extension/build $(EXT_TAR)

# make extension-push REGISTRY=ghcr.io/you [INSECURE=1]: REGISTRY/fos1-extension:VERSION.
extension-push: extension
	REGISTRY='$(REGISTRY)' INSECURE='$(INSECURE)' hack/extension/push $(EXT_TAR)

# The controller's container image (the Deployment of deploy/manifests/fos1-controller.yaml):
# dist/fos1 alone, as an OCI image layout tarball, reproducibly, like the extension.
controller-image: setup dist/fos1
	hack/controller-image/build $(CTL_TAR)

# make controller-image-push REGISTRY=ghcr.io/you [INSECURE=1]: REGISTRY/fos1-controller:VERSION,
# the image make talos-config REGISTRY=… puts in the controller's Deployment.
controller-image-push: controller-image
	REGISTRY='$(REGISTRY)' INSECURE='$(INSECURE)' hack/controller-image/push $(CTL_TAR)

# make image PROFILE=iso|raw|pxe|installer REGISTRY=… : Talos boot media with the extension
# (runs the imager under Docker; says what is missing when Docker or the registry is).
image: setup
	PROFILE='$(PROFILE)' REGISTRY='$(REGISTRY)' INSECURE='$(INSECURE)' TALOS_VERSION='$(TALOS_VERSION)' \
	  hack/image/run '$(PROFILE)'

# A single-node router's machine config from talos-patches/example (dist/talos/), with the
# cluster's inline manifests from deploy/; REGISTRY=… names where the controller's image is.
talos-config: setup
	REGISTRY='$(REGISTRY)' $(BUN) hack/talos-config/render.ts

# Every suite; the last line is "N passed, N failed, N skipped" over all of them.
test: setup build lab-image
	hack/test-all

demo: setup build lab-image
	$(BUN) hack/lab/demo.ts

bench: setup build lab-image
	$(BUN) hack/bench/run.ts

clean:
	rm -rf dist .cache/lab
