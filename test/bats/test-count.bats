#!/usr/bin/env bats
# The summary CI prints counts a skipped test as skipped, never as passed (hack/test-count).

setup() { load helpers; }

@test "bun's skip count is reported apart from its passes and failures" {
  log=$BATS_TEST_TMPDIR/unit.log
  printf '(pass) a\n(skip) b\n(fail) c\n\n 7 pass\n 2 skip\n 1 fail\n 9 expect() calls\nRan 10 tests across 2 files.\n' >"$log"
  run hack/test-count bun "$log"
  assert_success
  assert_output "7 1 2"
}

@test "a bats test that calls skip is counted as skipped, not as passed" {
  # Written with printf: the outer bats would take "@test" lines of a heredoc for its own tests.
  printf '%s\n' '@test "runs" { true; }' '@test "needs a tool this machine lacks" { skip "no such tool"; }' '@test "fails" { false; }' >"$BATS_TEST_TMPDIR/probe.bats"
  # A bats of its own: the outer run's BATS_* variables and its libexec PATH would confuse it.
  env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$HOME" bats --formatter tap "$BATS_TEST_TMPDIR/probe.bats" >"$BATS_TEST_TMPDIR/bats.log" || true
  run hack/test-count tap "$BATS_TEST_TMPDIR/bats.log"
  assert_success
  assert_output "1 1 1"
}

@test "a log with no summary counts nothing" {
  : >"$BATS_TEST_TMPDIR/empty.log"
  run hack/test-count bun "$BATS_TEST_TMPDIR/empty.log"
  assert_output "0 0 0"
  run hack/test-count tap "$BATS_TEST_TMPDIR/empty.log"
  assert_output "0 0 0"
}
