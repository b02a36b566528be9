#!/usr/bin/env bash
# The whole test suite: build and install the package (release), run pytest, then cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-build-isolation .
# Run from tests/ so `import rustgrad` resolves to the installed package, not python/.
(cd tests && python3 -m pytest -q -p no:cacheprovider .)
cargo test --quiet
