load /usr/lib/bats/bats-support/load.bash
load /usr/lib/bats/bats-assert/load.bash
REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
cd "$REPO"
