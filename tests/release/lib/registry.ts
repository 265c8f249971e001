// A throw-away Verdaccio on a loopback port: config and storage in a temporary directory, no
// uplinks (no traffic leaves the machine). The third-party packages the Homing packages depend on
// are put in its storage from the repository's node_modules, at the versions the lock file holds,
// so that `npm install` from this registry alone can resolve every dependency.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { run } from './run';

/** A running registry: its URL, the npm user config that points npm at it, and how to stop it. */
export interface Registry {
  url: string;
  /** An npm user config file (registry, a token for publishing): pass as `npm_config_userconfig`. */
  npmrc: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

interface LockEntry {
  version?: string;
  dev?: boolean;
  link?: boolean;
  name?: string;
}

/** The third-party packages installed for the workspaces' runtime dependencies: not dev, not links. */
function runtimePackages(repo: string): Map<string, Map<string, string>> {
  const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const found = new Map<string, Map<string, string>>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    const at = path.lastIndexOf('node_modules/');
    if (at === -1 || entry.dev || entry.link || entry.version === undefined) continue;
    const name = entry.name ?? path.slice(at + 'node_modules/'.length);
    if (name.startsWith('@homing/')) continue;
    // Optional platform packages that are not installed here cannot be copied (npm skips them).
    if (!existsSync(join(repo, path, 'package.json'))) continue;
    const versions = found.get(name) ?? new Map<string, string>();
    if (!versions.has(entry.version)) versions.set(entry.version, path);
    found.set(name, versions);
  }
  return found;
}

/** Writes one package's versions into Verdaccio's storage layout (a packument and its tarballs). */
async function storePackage(storage: string, url: string, name: string, entries: Map<string, string>, repo: string) {
  const dir = join(storage, name);
  mkdirSync(dir, { recursive: true });
  const versions: Record<string, unknown> = {};
  const attachments: Record<string, { shasum: string; version: string }> = {};
  const time: Record<string, string> = {};
  let latest = '';
  for (const [version, path] of entries) {
    const manifest = JSON.parse(readFileSync(join(repo, path, 'package.json'), 'utf8')) as Record<string, unknown>;
    const file = `${name.slice(name.indexOf('/') + 1)}-${version}.tgz`;
    const tarball = join(dir, file);
    // A tarball as npm makes one: the package's files under `package/`, its own node_modules left out.
    await run('tar', [
      '-czf',
      tarball,
      '--exclude=./node_modules',
      '--transform',
      's,^\\.,package,',
      '-C',
      join(repo, path),
      '.',
    ]);
    const bytes = readFileSync(tarball);
    const shasum = createHash('sha1').update(bytes).digest('hex');
    const integrity = `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
    versions[version] = {
      ...manifest,
      _id: `${name}@${version}`,
      dist: { shasum, integrity, tarball: `${url}${name}/-/${file}` },
    };
    attachments[file] = { shasum, version };
    time[version] = new Date().toISOString();
    if (latest === '' || version.localeCompare(latest, undefined, { numeric: true }) > 0) latest = version;
  }
  const packument = {
    name,
    versions,
    time: { ...time, created: new Date().toISOString(), modified: new Date().toISOString() },
    'dist-tags': { latest },
    _uplinks: {},
    _distfiles: {},
    _attachments: attachments,
    _rev: '1-0000000000000000',
    _id: name,
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(packument));
}

/** Starts Verdaccio in `dir` with the repository's runtime dependencies in its storage. */
export async function startRegistry(dir: string, repo: string): Promise<Registry> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const storage = join(dir, 'storage');
  mkdirSync(storage, { recursive: true });
  const packages = runtimePackages(repo);
  const names = [...packages.keys()];
  // tar runs a few at a time: the machine has few cores and the packages are many and small.
  for (let index = 0; index < names.length; index += 8) {
    await Promise.all(
      names.slice(index, index + 8).map((name) => storePackage(storage, url, name, packages.get(name)!, repo)),
    );
  }
  writeFileSync(join(storage, '.verdaccio-db.json'), JSON.stringify({ list: names, secret: 'release-test' }));
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      `storage: ${storage}`,
      'auth:',
      '  htpasswd:',
      `    file: ${join(dir, 'htpasswd')}`,
      'uplinks: {}',
      'packages:',
      "  '**':",
      '    access: $all',
      '    publish: $all',
      '    unpublish: $all',
      'log: { type: stdout, format: pretty, level: warn }',
      'publish:',
      '  allow_offline: true',
      '',
    ].join('\n'),
  );
  const npmrc = join(dir, 'npmrc');
  // Verdaccio lets anyone publish here ($all); npm still wants a token to send.
  writeFileSync(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=release-test\naudit=false\nfund=false\n`);
  const bin = join(repo, 'node_modules', 'verdaccio', 'bin', 'verdaccio');
  const child: ChildProcess = spawn(process.execPath, [bin, '--config', config, '--listen', `127.0.0.1:${port}`], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Not left behind if this process ends without calling stop().
  const orphan = () => child.kill('SIGKILL');
  process.once('exit', orphan);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited (${child.exitCode}):\n${output}`);
    const up = await fetch(`${url}-/ping`).then(
      (response) => response.ok,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) throw new Error(`verdaccio did not answer on ${url} within 30 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    npmrc,
    stop: async () => {
      process.off('exit', orphan);
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
