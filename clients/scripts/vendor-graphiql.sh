#!/bin/sh
# Copies GraphiQL and React's browser builds from clients/node_modules (npm ci
# first) into server/app/graphiql/, which the strait binary embeds: dev mode's
# GraphiQL page then needs no CDN. Run after changing their versions in
# clients/package.json, and commit the result; tests/graphiql.test.mjs fails
# while the committed copies differ from node_modules.
set -eu
cd "$(dirname "$0")/.."
out=../server/app/graphiql
mkdir -p "$out"
cp node_modules/graphiql/graphiql.min.js node_modules/graphiql/graphiql.min.css "$out/"
cp node_modules/react/umd/react.production.min.js "$out/"
cp node_modules/react-dom/umd/react-dom.production.min.js "$out/"
cp node_modules/graphiql/LICENSE "$out/LICENSE.graphiql"
cp node_modules/react/LICENSE "$out/LICENSE.react"
cp node_modules/react-dom/LICENSE "$out/LICENSE.react-dom"
v() { node -p "require('./node_modules/$1/package.json').version"; }
cat > "$out/VERSIONS" <<VERSIONS
graphiql $(v graphiql) (MIT, LICENSE.graphiql)
react $(v react) (MIT, LICENSE.react)
react-dom $(v react-dom) (MIT, LICENSE.react-dom)
VERSIONS
echo "vendored into $out:"; cat "$out/VERSIONS"
