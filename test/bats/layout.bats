#!/usr/bin/env bats
# The repository's shape, as ARCHITECTURE.md names it, and the README's promise to a new user.

setup() { load helpers; }

@test "the top-level layout is all there" {
  for p in extension image src bpf talos-patches hack test package.json package-lock.json Makefile README.md .ci/run; do
    [ -e "$p" ] || fail "missing $p"
  done
  [ -x .ci/run ] || fail ".ci/run is not executable"
}

@test "a folder with nothing else yet holds a README saying what will live there" {
  for d in extension image bpf talos-patches src/api src/cluster src/cilium src/talos; do
    files=$(git ls-files "$d")
    [ -n "$files" ] || fail "$d has no committed file"
    if [ "$(echo "$files" | wc -l)" -eq 1 ]; then
      assert_equal "$files" "$d/README.md"
      [ "$(wc -w <"$d/README.md")" -ge 10 ] || fail "$d/README.md says too little"
    fi
  done
}

@test "README gives a fresh machine exactly two commands: make demo and make test" {
  section=$(awk '/^## On a fresh machine/{on=1; next} /^## /{on=0} on' README.md)
  cmds=$(echo "$section" | awk '/^```/{inblock=!inblock; next} inblock' | sed '/^\s*$/d')
  assert_equal "$cmds" $'make demo\nmake test'
}

@test "Bun is pinned exactly as a devDependency, with the lockfile committed" {
  run node -e 'const p=require("./package.json"); console.log(p.devDependencies.bun)'
  assert_output --regexp '^[0-9]+\.[0-9]+\.[0-9]+$'
  git ls-files --error-unmatch package-lock.json
}

@test "TypeScript is strict" {
  run node -e 'console.log(require("./tsconfig.json").compilerOptions.strict)'
  assert_output true
}
