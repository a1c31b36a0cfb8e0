// Apollo Client against strait: PersistedQueryLink (automatic persisted
// queries: the hash first, the document once on PersistedQueryNotFound, the
// hash alone after) and relayStylePagination paging a connection to its end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import apollo from '@apollo/client/core/core.cjs';
import pq from '@apollo/client/link/persisted-queries/persisted-queries.cjs';
import utilities from '@apollo/client/utilities/utilities.cjs';
import { start, authFetch } from '../lib/strait.mjs';

const { ApolloClient, InMemoryCache, HttpLink, gql } = apollo;
const { createPersistedQueryLink } = pq;
const { relayStylePagination } = utilities;

const MERCHANTS = gql`
  query Merchants($first: Int!, $after: Cursor) {
    merchants(first: $first, after: $after) {
      edges { cursor node { id legalName } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

test('Apollo Client: persisted queries and relayStylePagination', async () => {
  const strait = await start({ dev: false });
  try {
    const sent = [];
    const fetchFn = authFetch(strait.token);
    const recording = async (input, init) => {
      sent.push(JSON.parse(init.body));
      return fetchFn(input, init);
    };
    const client = new ApolloClient({
      link: createPersistedQueryLink({ sha256: (s) => createHash('sha256').update(s).digest('hex') })
        .concat(new HttpLink({ uri: strait.url, fetch: recording })),
      cache: new InMemoryCache({ typePolicies: { Query: { fields: { merchants: relayStylePagination() } } } }),
    });
    const names = [];
    for (let i = 0; i < 5; i++) {
      const name = `Apollo Paging ${i} Ltd`;
      names.push(name);
      await client.mutate({
        mutation: gql`mutation Create($input: CreateMerchantInput!) { createMerchant(input: $input) { id } }`,
        variables: { input: { legalName: name, country: 'SG', settlementCurrency: 'SGD' } },
      });
    }
    // The first operation went hash-only, got PersistedQueryNotFound, and
    // was resent with its document; the next ones by hash alone.
    assert.equal(sent[0].query, undefined, 'the first request carried the document');
    assert.ok(sent[0].extensions?.persistedQuery?.sha256Hash, 'no persisted query hash');
    assert.ok(sent[1].query, 'not resent with the document after PersistedQueryNotFound');
    assert.ok(sent.slice(2).every((b) => b.query === undefined), 'later requests carried the document');

    const watched = client.watchQuery({ query: MERCHANTS, variables: { first: 2 } });
    const first = await watched.result();
    let page = first.data.merchants;
    assert.equal(page.edges.length, 2);
    let pages = 1;
    while (page.pageInfo.hasNextPage) {
      const more = await watched.fetchMore({ variables: { after: page.pageInfo.endCursor } });
      assert.ok(more.data.merchants.edges.length > 0);
      // relayStylePagination merges the new page into the cached list.
      const merged = client.readQuery({ query: MERCHANTS, variables: { first: 2 } }).merchants;
      assert.equal(merged.edges.length, page.edges.length + more.data.merchants.edges.length, 'pages not merged');
      page = merged;
      pages++;
      assert.ok(pages < 20, 'paging does not end');
    }
    const seen = page.edges.map((e) => e.node.legalName);
    for (const name of names) assert.ok(seen.includes(name), `${name} missing from the merged pages`);
    assert.equal(new Set(page.edges.map((e) => e.node.id)).size, page.edges.length, 'a merchant appears twice');
    assert.ok(pages >= 3, `only ${pages} pages`);
    const byHashOnly = sent.filter((b) => b.operationName === 'Merchants' && b.query === undefined).length;
    assert.ok(byHashOnly >= 2, 'paging did not use persisted queries');
  } finally {
    await strait.stop();
  }
});
