// Starts a real `strait serve` (the built binary) for one test file: a free
// port, a temporary data directory, dev or production mode. The caller stops
// it with stop(). STRAIT_BIN overrides the binary (default ../bin/strait).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const binary = resolve(process.env.STRAIT_BIN || join(here, '..', '..', 'bin', 'strait'));

/** Where tests keep what they produce (screenshots, generated code): clients/out, gitignored. */
export function outDir(name) {
  const dir = join(here, '..', 'out', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/**
 * start launches strait and resolves once it serves.
 * @param {{dev: boolean, env?: Record<string,string>}} opts
 * @returns {Promise<{url: string, base: string, token: string, stop: () => Promise<void>, log: () => string}>}
 */
export async function start({ dev, env = {} }) {
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run make build (or set STRAIT_BIN)`);
  const data = mkdtempSync(join(tmpdir(), 'strait-clients-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const environment = {
    ...process.env,
    STRAIT_ADDR: `127.0.0.1:${port}`,
    STRAIT_DATA_DIR: data,
    STRAIT_PLUGIN_DIR: join(data, 'no-plugins'),
    STRAIT_DEV: dev ? 'true' : 'false',
    STRAIT_LOG_LEVEL: 'warn',
    ...env,
  };
  let token = '';
  if (!dev) {
    execFileSync(binary, ['keys', '--data-dir', data], { env: environment });
    token = execFileSync(binary, ['token', '--role', 'operator', '--data-dir', data, '--ttl', '1h'], { env: environment }).toString().trim();
  }
  const child = spawn(binary, ['serve'], { env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((res) => child.on('exit', (code) => res(code)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`strait exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`strait did not start in 60 s:\n${out}`); }
    const ready = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
    if (ready && (!dev || /operator token:\s+\S+/.test(out))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (dev) token = out.match(/operator token:\s+(\S+)/)[1];
  return {
    url: `${base}/graphql`,
    base,
    token,
    log: () => out,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** authFetch is fetch with the bearer token set on every request. */
export function authFetch(token) {
  return (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
}
