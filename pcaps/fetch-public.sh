#!/usr/bin/env bash
# Downloads well-known public captures into pcaps/public/ (ignored by git) for users
# with internet access, and checks each against its known SHA-256 where one is known.
#
#   pcaps/fetch-public.sh           small captures (about 11 MB)
#   pcaps/fetch-public.sh --big     also tcpreplay's bigFlows.pcap (368 MB)
#
# Replay one with: das run --pcap pcaps/public/smallFlows.pcap
set -euo pipefail
cd "$(dirname "$0")"
dest=public
big=0
for arg in "$@"; do
    case "$arg" in
        --big) big=1 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "fetch-public.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
    esac
done
mkdir -p "$dest"

# name | URL | SHA-256 (a prefix is enough; empty: not known, printed for the record)
captures=(
    "smallFlows.pcap|https://s3.amazonaws.com/tcpreplay-pcap-files/smallFlows.pcap|"
    "http_espn.pcapng|https://raw.githubusercontent.com/chrissanders/packets/master/http_espn.pcapng|082b15d9435ff813"
    "ek_to_cryptowall4.pcapng|https://raw.githubusercontent.com/chrissanders/packets/master/ek_to_cryptowall4.pcapng|6350d8bf4537d57b"
)
if [ "$big" -eq 1 ]; then
    captures+=("bigFlows.pcap|https://s3.amazonaws.com/tcpreplay-pcap-files/bigFlows.pcap|2b630291cc848c79949e12a54edebe07d20f644747db28899ac4d568c42dc141")
fi

failed=0
for entry in "${captures[@]}"; do
    IFS='|' read -r name url sha <<<"$entry"
    out="$dest/$name"
    if [ ! -s "$out" ]; then
        echo "fetching $name from $url"
        if ! curl -fL --retry 3 -o "$out.part" "$url"; then
            echo "  failed to download $name" >&2
            rm -f "$out.part"
            failed=1
            continue
        fi
        mv "$out.part" "$out"
    fi
    actual=$(sha256sum "$out" | cut -d' ' -f1)
    if [ -n "$sha" ] && [ "${actual:0:${#sha}}" != "$sha" ]; then
        echo "  $name: SHA-256 $actual does not start with $sha: the server now sends a different file" >&2
        failed=1
    else
        echo "  $name: $(stat -c %s "$out") bytes, SHA-256 $actual"
    fi
done
exit "$failed"
