#!/usr/bin/env bash
# Writes the captures listed in pcaps/recipes.txt to pcaps/generated/ with `das gen`,
# and checks each file's SHA-256 against the recipe (the generator is deterministic).
# Builds das in release mode first if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
das=target/release/das
[ -x "$das" ] || cargo build --release --locked --bin das
mkdir -p pcaps/generated
status=0
while read -r name sha args; do
    case "$name" in ''|'#'*) continue ;; esac
    # shellcheck disable=SC2086 # the options are meant to split
    "$das" gen --out "pcaps/generated/$name" $args | head -1
    actual=$(sha256sum "pcaps/generated/$name" | cut -d' ' -f1)
    if [ "$actual" != "$sha" ]; then
        echo "  $name: SHA-256 $actual differs from the recipe's $sha" >&2
        status=1
    fi
done < pcaps/recipes.txt
exit "$status"
