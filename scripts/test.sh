#!/usr/bin/env bash
# The whole test suite, run against the installed wheel rather than the source tree, so a file
# missing from the wheel fails here: build one release abi3 wheel, install it into a fresh virtual
# environment with the test dependencies, run pytest there, then cargo test.
#   RUSTGRAD_TEST_VENV  where the venv goes (default target/test-venv; recreated every run)
#   extra arguments are passed to pytest (e.g. `bash scripts/test.sh -x -k conv`)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dist="$root/target/test-wheel"
venv="${RUSTGRAD_TEST_VENV:-$root/target/test-venv}"

rm -rf "$dist"
python3 -m maturin build --release --quiet --out "$dist"
wheel=$(ls "$dist"/rustgrad-*.whl)
echo "built $(basename "$wheel")"

rm -rf "$venv"
python3 -m venv "$venv"
py="$venv/bin/python"
"$py" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
"$py" -m pip install -q -r tests/requirements.txt
grep -v '^\s*#' tests/requirements-optional.txt | grep -v '^\s*$' | while read -r pkg; do
  "$py" -m pip install -q "$pkg" || echo "warning: could not install $pkg; the tests that need it skip"
done
"$py" -m pip install -q "$wheel"
"$py" -m rustgrad

# From tests/, so `import rustgrad` resolves to the venv's installed wheel, never python/.
(cd tests && RUSTGRAD_EXPECT_WHEEL=1 "$py" -m pytest -q -p no:cacheprovider "$@" .)
cargo test --quiet
