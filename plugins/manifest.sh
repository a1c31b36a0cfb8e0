#!/bin/sh
# manifest.sh writes DIR/manifest.json (DIR defaults to bin/plugins) for the
# reference connectors built into DIR, with their SHA-256 checksums, merged
# with the entries of any other connector dropped into DIR/manifest.d/:
#
#   CGO_ENABLED=0 go build -o bin/plugins/ ./plugins/cardnet ./plugins/bank ./plugins/wallet ./plugins/fx
#   sh plugins/manifest.sh bin/plugins
#
# DIR/manifest.d/NAME.json holds one manifest entry (a JSON object) for the
# connector NAME, written by its installer with the binary's sha256; the
# script copies it into the manifest as it is, so `make build` and `make run`
# keep third-party connectors. A drop-in named after a reference connector
# (manifest.d/cardnet.json) replaces that connector's generated entry.
#
# The script never drops a connector it does not know: if manifest.json
# names a connector that is neither a reference one nor in manifest.d/ (an
# entry added by hand), it stops and says to move that entry into
# manifest.d/. Edit a reference connector's entry the same way, by a
# drop-in: the generated entries are rewritten on every build.
#
# Secrets stay out of the file: the manifest names Strait's environment
# variables SANDBOX_API_KEY and SANDBOX_WEBHOOK_SECRET, which must be set
# when Strait starts. SANDBOX_URL and STRAIT_PUBLIC_URL (where the sandbox
# can reach Strait's /connectors/{name}/webhook) are written as values.
set -eu
dir=${1:-bin/plugins}
sandbox=${SANDBOX_URL:-http://127.0.0.1:8090}
public=${STRAIT_PUBLIC_URL:-http://127.0.0.1:8080}
manifest=$dir/manifest.json

if [ -f "$manifest" ]; then
	for name in $(grep -o '"name"[[:space:]]*:[[:space:]]*"[^"]*"' "$manifest" | sed 's/.*"\([^"]*\)"$/\1/'); do
		case $name in cardnet|bank|wallet|fx) continue ;; esac
		[ -f "$dir/manifest.d/$name.json" ] && continue
		echo "manifest.sh: $manifest has an entry for \"$name\" that is not in $dir/manifest.d/;" >&2
		echo "  move it into $dir/manifest.d/$name.json (the entry alone, one JSON object) and run again," >&2
		echo "  so that rebuilding keeps it: see docs/connectors.md, \"Installing and upgrading\"." >&2
		exit 1
	done
fi

entry() { # name, with_webhook
	sum=$(sha256sum "$dir/$1" | cut -d' ' -f1)
	hook=""
	if [ "$2" = yes ]; then
		hook=', "webhook_secret": "${SANDBOX_WEBHOOK_SECRET}", "webhook_url": "'"$public/connectors/$1/webhook"'"'
	fi
	printf '  {"name": "%s", "binary": "%s", "sha256": "%s", "config": {"base_url": "%s", "api_key": "${SANDBOX_API_KEY}"%s}}' \
		"$1" "$1" "$sum" "$sandbox" "$hook"
}

{
	echo "["
	sep=""
	for ref in cardnet:yes bank:yes wallet:yes fx:no; do
		name=${ref%%:*}
		[ -f "$dir/manifest.d/$name.json" ] && continue # replaced by a drop-in
		printf '%s' "$sep"; entry "$name" "${ref#*:}"; sep=",
"
	done
	for f in "$dir"/manifest.d/*.json; do
		[ -f "$f" ] || continue
		printf '%s' "$sep"; sed 's/^/  /' "$f"; sep=","
	done
	echo
	echo "]"
} > "$manifest.tmp"
mv "$manifest.tmp" "$manifest"
extra=$(find "$dir/manifest.d" -name '*.json' 2>/dev/null | wc -l)
echo "wrote $manifest (reference connectors and $extra from $dir/manifest.d/)"
