import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@homing/test-peers';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

// Issue 11 item 7: the sans-IO core (the `@homing/smtp` entry point) bundles for a neutral platform
// with nothing from Node's standard library, and runs under another runtime (Bun).

const run = promisify(execFile);
const BUILTINS = new Set(builtinModules);

/** Bundles src/index.ts for `platform: 'neutral'`; returns the code and every Node builtin it asked for. */
async function bundleCore(): Promise<{ code: string; builtins: string[] }> {
  const builtins: string[] = [];
  const result = await build({
    entryPoints: [join(import.meta.dirname, '../src/index.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    logLevel: 'silent',
    plugins: [
      {
        name: 'node-builtins',
        setup(builder) {
          builder.onResolve({ filter: /.*/ }, (args) => {
            if (args.path.startsWith('node:') || BUILTINS.has(args.path)) {
              builtins.push(`${args.path} (from ${args.importer.replace(`${REPO_ROOT}/`, '')})`);
              return { path: args.path, external: true };
            }
            return undefined;
          });
        },
      },
    ],
  });
  return { code: result.outputFiles[0]!.text, builtins };
}

// What the smoke script checks, in whatever runtime runs it: a server session answers a whole
// transaction, a client session speaks to it, and an address literal parses, all without I/O.
const SMOKE = `
const core = await import(process.argv[2] ?? Bun.argv[2]);
const out = [];
const server = new core.ServerSession({ hostname: 'mx.test' });
const client = new core.ClientSession({ name: 'client.test', tls: 'none', chunking: false });
const toServer = [];
const pump = () => {
  for (let e = server.nextEvent(); e !== core.NEED_DATA && e !== core.PAUSED; e = server.nextEvent()) {
    if (e.type === 'Reply') toServer.push(e.data);
    else if (e.type === 'MessageData') out.push('body ' + new TextDecoder().decode(e.data).trim());
    else if (e.type !== 'MessageStart' && e.type !== 'Reset' && e.type !== 'Closed') toServer.push(server.send({ action: 'accept' }));
  }
};
const take = (events) => {
  for (const e of events) {
    if (e.type === 'Send') { server.receiveData(e.data); pump(); }
    else if (e.type === 'Ready') { out.push('ready'); take(client.startMessage({ from: 'a@[IPv6:2001:db8::1]', to: ['b@[192.0.2.1]'] })); }
    else if (e.type === 'SendBody') { const enc = new core.DataEncoder('data'); server.receiveData(Buffer.concat([enc.encode(new TextEncoder().encode('hi\\r\\n')), enc.end()])); take(client.endBody()); pump(); }
    else if (e.type === 'MessageDone') { out.push('accepted ' + e.result.accepted.map((r) => r.address).join(',')); take(client.quit()); }
    else if (e.type === 'Closed') out.push('closed');
  }
  while (toServer.length > 0) take(client.receive(new TextEncoder().encode(toServer.shift())));
};
pump();
take([]);
out.push('literal ' + core.parseMailbox('x@[IPv6:::ffff:192.0.2.1]').ok);
console.log(out.join('\\n'));
`;
const EXPECTED = ['ready', 'body hi', 'accepted b@[192.0.2.1]', 'closed', 'literal true'].join('\n');

describe('the sans-IO core', () => {
  it('bundles for a neutral platform with nothing from node: or any other Node builtin', async () => {
    const { code, builtins } = await bundleCore();
    expect(builtins).toEqual([]);
    expect(code).not.toMatch(/from ["']node:/);
    expect(code.length).toBeGreaterThan(10_000);
  });

  it('runs under Bun: a client session and a server session complete a message', { timeout: 60_000 }, async () => {
    const bun = join(REPO_ROOT, '.cache/bun/node_modules/@oven/bun-linux-x64/bin/bun');
    if (!existsSync(bun)) throw new Error(`Bun is missing (${bun}): run bash .ci/install-peers.sh`);
    const dir = mkdtempSync(join(tmpdir(), 'homing-core-'));
    try {
      const { code } = await bundleCore();
      writeFileSync(join(dir, 'core.mjs'), code);
      writeFileSync(join(dir, 'smoke.mjs'), SMOKE);
      const version = (await run(bun, ['--version'])).stdout.trim();
      const { stdout } = await run(bun, [join(dir, 'smoke.mjs'), join(dir, 'core.mjs')], { cwd: dir });
      expect(stdout.trim(), `Bun ${version}`).toBe(EXPECTED);
      // The same script under Node, so that a difference is Bun's and not the script's.
      const node = await run(process.execPath, [join(dir, 'smoke.mjs'), join(dir, 'core.mjs')], { cwd: dir });
      expect(node.stdout.trim()).toBe(EXPECTED);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
