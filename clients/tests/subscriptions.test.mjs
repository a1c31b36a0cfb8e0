// graphql-ws drives strait's subscriptions the way a dashboard does:
// paymentUpdated receives a real card payment (the cardnet plugin against
// the sandbox), a reconnect resumes from the last cursor without a gap or a
// repeat, and a bad token ends in 4403 with one connection attempt, not a
// reconnect storm. The merchant's webhook is verified with the npm
// `standardwebhooks` package, an implementation independent of strait's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync, existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { Webhook } from 'standardwebhooks';
import { start, freePort } from '../lib/strait.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin');

/** The sandbox on a free port and a plugin directory whose manifest points at it. */
async function channel() {
  for (const f of ['sandbox', 'plugins/cardnet', 'plugins/bank', 'plugins/wallet', 'plugins/fx']) {
    if (!existsSync(join(bin, f))) throw new Error(`${join(bin, f)} is missing: run make build`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'strait-channel-'));
  const port = await freePort();
  const sandbox = spawn(join(bin, 'sandbox'), ['-addr', `127.0.0.1:${port}`, '-data', join(dir, 'data')], { stdio: 'ignore' });
  const plugins = join(dir, 'plugins');
  execFileSync('mkdir', ['-p', plugins]);
  for (const p of ['cardnet', 'bank', 'wallet', 'fx']) symlinkSync(join(bin, 'plugins', p), join(plugins, p));
  execFileSync('sh', [join(root, 'plugins', 'manifest.sh'), plugins], { env: { ...process.env, SANDBOX_URL: `http://127.0.0.1:${port}` } });
  for (let i = 0; ; i++) {
    if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) break;
    if (i > 100) throw new Error('sandbox did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    plugins,
    stop() { sandbox.kill('SIGTERM'); rmSync(dir, { recursive: true, force: true }); },
  };
}

async function gql(url, credential, query, variables) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${credential}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await r.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

/** A subscription's messages as a queue the test awaits one by one. */
function listen(client, query, variables) {
  const queue = [];
  const waiters = [];
  let failure;
  const dispose = client.subscribe({ query, variables }, {
    next: (v) => { const w = waiters.shift(); w ? w.resolve(v) : queue.push(v); },
    error: (e) => { failure = e; waiters.splice(0).forEach((w) => w.reject(e)); },
    complete: () => {},
  });
  return {
    dispose,
    next(ms = 20000) {
      if (queue.length) return Promise.resolve(queue.shift());
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        const w = { resolve, reject };
        waiters.push(w);
        setTimeout(() => reject(new Error('no message in time')), ms);
      });
    },
  };
}

const paymentUpdated = `subscription($after: Cursor) { paymentUpdated(after: $after) { cursor eventID type payment { id status } } }`;

test('graphql-ws: paymentUpdated receives a payment, resumes from its cursor, and webhooks verify', async () => {
  const ch = await channel();
  const strait = await start({ dev: false, env: {
    STRAIT_PLUGIN_DIR: ch.plugins, SANDBOX_API_KEY: 'sk_sandbox_test', SANDBOX_WEBHOOK_SECRET: 'whsec_strait_dev',
    STRAIT_VAULT_KEYS: `k1:${randomBytes(32).toString('base64')}`, STRAIT_VAULT_FINGERPRINT_KEY: randomBytes(32).toString('base64'),
    STRAIT_WEBHOOK_ALLOW_PRIVATE: 'true',
  } });
  const hooks = [];
  let secret = '';
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      try {
        hooks.push(new Webhook(secret).verify(body, req.headers));
        res.writeHead(204).end();
      } catch (e) {
        hooks.push({ refused: String(e) });
        res.writeHead(400).end();
      }
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  const clients = [];
  const ws = (credential, extra = {}) => {
    const c = createClient({ url: strait.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket,
      connectionParams: { Authorization: `Bearer ${credential}` }, retryAttempts: 0, ...extra });
    clients.push(c);
    return c;
  };
  try {
    const { createMerchant: m } = await gql(strait.url, strait.token,
      'mutation { createMerchant(input: {legalName: "Node Shop", country: "SG", settlementCurrency: "SGD"}) { id } }');
    const { createAPIKey: { secret: apiKey } } = await gql(strait.url, strait.token,
      'mutation($m: ID) { createAPIKey(input: {merchantID: $m, name: "node"}) { secret } }', { m: m.id });
    ({ createWebhookEndpoint: { secret } } = await gql(strait.url, apiKey,
      'mutation($u: String!) { createWebhookEndpoint(input: {url: $u, eventTypes: ["payment."]}) { secret } }',
      { u: `http://127.0.0.1:${receiver.address().port}/hooks` }));
    const pay = async () => {
      const { createCheckoutSession: s } = await gql(strait.url, apiKey,
        'mutation { createCheckoutSession(input: {amount: {amount: "4200", currency: "SGD"}, returnURL: "https://shop.example/done", buyerCountry: "SG"}) { cashierToken } }');
      const { tokenizeCard: { token } } = await gql(strait.url, s.cashierToken,
        'mutation { tokenizeCard(input: {number: "4242424242424242", cvc: "739", expMonth: 12, expYear: 2031}) { token } }');
      const { confirmCheckoutSession: p } = await gql(strait.url, s.cashierToken,
        'mutation($in: ConfirmCheckoutSessionInput!) { confirmCheckoutSession(input: $in) { id status } }',
        { in: { method: 'CARD', cardToken: token, idempotencyKey: `k-${token}` } });
      assert.equal(p.status, 'SUCCEEDED');
      return p.id;
    };
    const untilSucceeded = async (sub, id) => {
      const seen = [];
      for (;;) {
        const { data, errors } = await sub.next();
        assert.equal(errors, undefined, JSON.stringify(errors));
        seen.push(data.paymentUpdated);
        // A sale's last event: its capture, right after payment.succeeded.
        if (data.paymentUpdated.payment.id === id && data.paymentUpdated.type === 'payment.captured') return seen;
      }
    };

    // Subscribe, receive.
    const first = listen(ws(apiKey), paymentUpdated, {});
    await new Promise((r) => setTimeout(r, 200));
    const p1 = await pay();
    const seen1 = await untilSucceeded(first, p1);
    const cursor = seen1.at(-1).cursor;
    first.dispose();

    // Away while a second payment happens; resume from the cursor.
    const p2 = await pay();
    const resumed = listen(ws(apiKey), paymentUpdated, { after: cursor });
    const seen2 = await untilSucceeded(resumed, p2);
    assert.ok(seen2.every((c) => c.payment.id === p2), `replayed events of the first payment: ${JSON.stringify(seen2)}`);
    const ids = new Set([...seen1, ...seen2].map((c) => c.eventID));
    assert.equal(ids.size, seen1.length + seen2.length, 'an event came twice');

    // Every event went out as a webhook the independent verifier accepts.
    for (let i = 0; i < 100 && hooks.filter((h) => !h.refused).length < ids.size; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(hooks.filter((h) => h.refused), []);
    assert.ok(hooks.length >= ids.size, `${hooks.length} webhooks for ${ids.size} events`);
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
    receiver.close();
    await strait.stop();
    ch.stop();
  }
});

test('graphql-ws: a bad token ends in 4403 after one connection, not a reconnect storm', async () => {
  const strait = await start({ dev: false });
  let sockets = 0;
  class CountingWebSocket extends WebSocket {
    constructor(...args) { super(...args); sockets++; }
  }
  const client = createClient({ url: strait.url.replace(/^http/, 'ws'), webSocketImpl: CountingWebSocket,
    connectionParams: { Authorization: 'Bearer not-a-token' }, retryAttempts: 0 });
  try {
    const outcome = await new Promise((resolve) => {
      client.subscribe({ query: paymentUpdated }, { next: () => resolve('answered'), error: resolve, complete: () => resolve('completed') });
    });
    assert.equal(outcome.code, 4403, `closed with ${outcome.code} ${outcome.reason}`);
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(sockets, 1, `${sockets} connections in 2 s`);
  } finally {
    await client.dispose();
    await strait.stop();
  }
});
