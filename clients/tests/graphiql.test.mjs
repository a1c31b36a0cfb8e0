// Dev mode's GraphiQL in headless Chromium (Debian's chromium, driven by
// playwright-core): the page renders from the assets in the binary with no
// request leaving 127.0.0.1, the docs explorer lists Query, and a viewer
// query run with the pre-filled token returns data. A screenshot goes to
// clients/out/graphiql/. The vendored assets must match node_modules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { start, outDir } from '../lib/strait.mjs';

const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const here = dirname(fileURLToPath(import.meta.url));

test('the vendored GraphiQL assets are the versions in package-lock.json', () => {
  const vendored = join(here, '..', '..', 'server', 'app', 'graphiql');
  const pairs = {
    'graphiql.min.js': 'graphiql/graphiql.min.js',
    'graphiql.min.css': 'graphiql/graphiql.min.css',
    'react.production.min.js': 'react/umd/react.production.min.js',
    'react-dom.production.min.js': 'react-dom/umd/react-dom.production.min.js',
  };
  for (const [file, source] of Object.entries(pairs)) {
    assert.ok(readFileSync(join(vendored, file)).equals(readFileSync(join(here, '..', 'node_modules', source))),
      `server/app/graphiql/${file} differs from node_modules/${source}: run clients/scripts/vendor-graphiql.sh`);
  }
});

test('GraphiQL in headless Chromium: renders offline, docs list Query, viewer answers', async () => {
  assert.ok(existsSync(chromiumPath), `${chromiumPath} is missing: apt-get install -y chromium`);
  const strait = await start({ dev: true });
  const profile = mkdtempSync(join(tmpdir(), 'strait-chromium-'));
  const offsite = [];
  let browser;
  try {
    // An empty profile: launchPersistentContext passes it as --user-data-dir.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = browser.pages()[0] || await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => { if (!r.url().startsWith(strait.base) && !r.url().startsWith('data:')) offsite.push(r.url()); });
    await page.goto(strait.base + '/', { waitUntil: 'load' });
    await page.waitForSelector('.graphiql-container', { timeout: 30_000 });

    // The token is pre-filled: run the default viewer query.
    const answer = page.waitForResponse((r) => r.url() === strait.url && r.request().method() === 'POST'
      && (r.request().postData() || '').includes('viewer'));
    await page.click('.graphiql-execute-button');
    const res = await answer;
    const body = await res.json();
    assert.equal(res.status(), 200);
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    assert.equal(body.data.viewer.principal, 'OPERATOR');
    await page.waitForFunction(() => document.querySelector('.result-window')?.textContent.includes('OPERATOR'), null, { timeout: 15_000 });

    // The docs explorer, built from the introspection query, lists Query.
    await page.click('button[aria-label="Show Documentation Explorer"]');
    await page.waitForSelector('.graphiql-doc-explorer', { timeout: 15_000 });
    await page.waitForFunction(() => document.querySelector('.graphiql-doc-explorer')?.textContent.includes('Query'), null, { timeout: 15_000 });
    await page.screenshot({ path: join(outDir('graphiql'), 'graphiql.png') });
    assert.deepEqual(errors, [], 'the page threw');
    assert.deepEqual(offsite, [], 'the page fetched from outside strait');
  } finally {
    await browser?.close();
    rmSync(profile, { recursive: true, force: true });
    await strait.stop();
  }
});
