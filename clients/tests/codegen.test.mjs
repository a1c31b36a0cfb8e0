// GraphQL Code Generator builds TypeScript types from the dev server's
// introspection (the standard query, through strait's depth limit). With
// strictScalars every custom scalar must be mapped; Strait's are strings on
// the wire (docs/api.md, "Scalars"), and each says so with @specifiedBy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { getIntrospectionQuery } from 'graphql';
import { start, authFetch, outDir } from '../lib/strait.mjs';

// The scalars map docs/api.md gives frontends.
export const scalars = { Int64: 'string', Cursor: 'string', Time: 'string', Upload: 'File' };

test('@graphql-codegen/cli: TypeScript from the dev server, custom scalars typed as docs/api.md maps them', async () => {
  const strait = await start({ dev: true });
  try {
    const out = join(outDir('codegen'), 'strait.ts');
    await generate({
      schema: { [strait.url]: { headers: { Authorization: `Bearer ${strait.token}` } } },
      generates: { [out]: { plugins: ['typescript'], config: { scalars, strictScalars: true } } },
      silent: true,
    }, true);
    const ts = readFileSync(out, 'utf8');
    for (const [name, type] of Object.entries(scalars)) {
      assert.match(ts, new RegExp(`${name}: \\{ input: ${type}; output: ${type}; \\}`), `${name} is not typed ${type}`);
    }
    assert.doesNotMatch(ts, /: (unknown|any);/, 'a type is unknown or any');
    assert.match(ts, /export type Payment = Node & \{/);
    assert.doesNotMatch(ts, /AgreementConnection|APIKeyOrder/, 'unreachable types are generated');

    // Each custom scalar carries its format's specification.
    const res = await authFetch(strait.token)(strait.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: getIntrospectionQuery({ specifiedByUrl: true, directiveIsRepeatable: true }) }),
    });
    const { data, errors } = await res.json();
    assert.equal(errors, undefined, JSON.stringify(errors));
    const custom = data.__schema.types.filter((t) => t.kind === 'SCALAR' && !['String', 'Int', 'Float', 'Boolean', 'ID'].includes(t.name));
    assert.deepEqual(custom.map((t) => t.name).sort(), Object.keys(scalars).sort(), 'the custom scalars changed: update the map here and in docs/api.md');
    for (const t of custom) assert.ok(t.specifiedByURL, `${t.name} has no specifiedByURL`);
    assert.ok(!data.__schema.directives.some((d) => d.name.startsWith('go')), 'gqlgen directives are visible');
  } finally {
    await strait.stop();
  }
});
