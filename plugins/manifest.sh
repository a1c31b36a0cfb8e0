#!/bin/sh
# manifest.sh writes DIR/manifest.json for the reference connectors built
# into DIR (default bin/plugins), with their SHA-256 checksums.
#
#   go build -o bin/plugins/ ./plugins/cardnet ./plugins/bank ./plugins/wallet ./plugins/fx
#   sh plugins/manifest.sh bin/plugins
#
# Secrets stay out of the file: the manifest names Strait's environment
# variables SANDBOX_API_KEY and SANDBOX_WEBHOOK_SECRET, which must be set
# when Strait starts. SANDBOX_URL and STRAIT_PUBLIC_URL (where the sandbox
# can reach Strait's /connectors/{name}/webhook) are written as values.
set -eu
dir=${1:-bin/plugins}
sandbox=${SANDBOX_URL:-http://127.0.0.1:8090}
public=${STRAIT_PUBLIC_URL:-http://127.0.0.1:8080}

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
	entry cardnet yes; echo ","
	entry bank yes; echo ","
	entry wallet yes; echo ","
	entry fx no; echo
	echo "]"
} > "$dir/manifest.json.tmp"
mv "$dir/manifest.json.tmp" "$dir/manifest.json"
echo "wrote $dir/manifest.json"
