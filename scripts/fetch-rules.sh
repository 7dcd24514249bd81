#!/usr/bin/env bash
# Downloads public rule sets for das ids into rules/public/ (ignored by git): the Snort 3
# community rules from snort.org and Emerging Threats Open for Snort 2.9 and, when
# available, its Snort 3 conversion. Needs internet access and curl (or wget).
#
#   scripts/fetch-rules.sh [DEST]     (DEST defaults to rules/public)
#
# The rule sets keep their own licences (community rules: GPLv2; ET Open: BSD and
# GPLv2); do not commit them.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-$root/rules/public}"
mkdir -p "$dest"
cd "$dest"

fetch() {
    local url="$1" out="$2"
    echo "fetch-rules: $url" >&2
    if command -v curl >/dev/null 2>&1; then
        curl --fail --location --silent --show-error --retry 3 -o "$out" "$url"
    elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$out" "$url"
    else
        echo "fetch-rules: need curl or wget" >&2
        exit 1
    fi
}

fetch https://www.snort.org/downloads/community/snort3-community-rules.tar.gz snort3-community-rules.tar.gz
tar -xzf snort3-community-rules.tar.gz

fetch https://rules.emergingthreats.net/open/snort-2.9.0/emerging.rules.tar.gz et-open-snort2.9.0.tar.gz
mkdir -p et-open-snort2.9.0
tar -xzf et-open-snort2.9.0.tar.gz -C et-open-snort2.9.0 --strip-components=1

# ET publishes a Snort 3 edition for some versions; it is optional.
if fetch https://rules.emergingthreats.net/open/snort-3.0.0/emerging.rules.tar.gz et-open-snort3.tar.gz 2>/dev/null; then
    mkdir -p et-open-snort3
    tar -xzf et-open-snort3.tar.gz -C et-open-snort3 --strip-components=1
else
    echo "fetch-rules: no Snort 3 edition of ET Open; das ids reads the Snort 2.9 files" >&2
fi

echo "fetch-rules: rule sets in $dest:" >&2
find "$dest" -name '*.rules' | sed "s|^$dest/|  |" | sort | head -20 >&2
cat >&2 <<MSG
Examples:
  das ids --rules $dest/snort3-community-rules/snort3-community.rules --pcap capture.pcap
  das ids --rules $dest/et-open-snort2.9.0/*.rules --pcap capture.pcap
MSG
