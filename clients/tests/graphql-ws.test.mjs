// graphql-ws, the npm client of the graphql-transport-ws protocol, runs a
// query over strait's websocket; the token rides in connection_init and the
// connection_ack brings nothing back (no secret echoed). Subscriptions come
// with issue 15.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { start } from '../lib/strait.mjs';

test('graphql-ws: a query over the websocket, an ack without the init payload', async () => {
  const strait = await start({ dev: false });
  const rawMessages = [];
  class RecordingWebSocket extends WebSocket {
    constructor(...args) {
      super(...args);
      this.on('message', (m) => rawMessages.push(m.toString()));
    }
  }
  let ackPayload = 'not acknowledged';
  const client = createClient({
    url: strait.url.replace(/^http/, 'ws'),
    webSocketImpl: RecordingWebSocket,
    connectionParams: { Authorization: `Bearer ${strait.token}` },
    retryAttempts: 0,
    on: { connected: (_socket, payload) => { ackPayload = payload; } },
  });
  try {
    const result = await new Promise((resolve, reject) => {
      let value;
      client.subscribe({ query: '{ viewer { principal subject } }' }, {
        next: (v) => { value = v; },
        error: reject,
        complete: () => resolve(value),
      });
    });
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    assert.deepEqual(result.data, { viewer: { principal: 'OPERATOR', subject: 'operator' } });
    assert.equal(ackPayload, undefined, 'connection_ack carries a payload');
    const ack = rawMessages.find((m) => JSON.parse(m).type === 'connection_ack');
    assert.ok(ack, 'no connection_ack seen');
    assert.ok(!ack.includes(strait.token) && !ack.includes('Bearer'), `connection_ack echoes the secret: ${ack}`);
  } finally {
    await client.dispose();
    await strait.stop();
  }
});

test('graphql-ws: a bad token is refused before any operation', async () => {
  const strait = await start({ dev: false });
  const client = createClient({
    url: strait.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: 'Bearer not-a-token' },
    retryAttempts: 0,
  });
  try {
    const outcome = await new Promise((resolve) => {
      client.subscribe({ query: '{ viewer { principal } }' }, {
        next: () => resolve('answered'),
        error: (e) => resolve(e),
        complete: () => resolve('completed'),
      });
    });
    assert.notEqual(outcome, 'answered');
    assert.notEqual(outcome, 'completed');
    assert.equal(outcome.code, 4403, `closed with ${outcome.code} ${outcome.reason}`);
  } finally {
    await client.dispose();
    await strait.stop();
  }
});
