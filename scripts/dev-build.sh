#!/usr/bin/env bash
# Fast inner-loop build: compile the extension with the dev profile (opt-level 1) and drop it into
# python/rustgrad/ so an editable install (pip install -e .) picks it up. Use `pip install .` for
# a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-dev}"
cargo build --features python --profile "$profile" --lib --quiet
dir=target/$([ "$profile" = dev ] && echo debug || echo "$profile")
suffix=$(python3 -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
cp "$dir/librustgrad.so" "python/rustgrad/_rustgrad$suffix.tmp"
mv "python/rustgrad/_rustgrad$suffix.tmp" "python/rustgrad/_rustgrad$suffix"
