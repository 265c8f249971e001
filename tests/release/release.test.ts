// The release, end to end against a real registry on loopback (issue 18 items 1-4): from a copy
// of the repository, `npm run release` versions with a test changeset and publishes every package
// to a throw-away Verdaccio; then, in scratch projects outside the repository, each package is
// installed alone from that registry and its README examples (ESM and CJS), a file importing
// every public export (type-checked under nodenext, node16 and bundler), publint and attw on its
// tarball must all pass. Prints the install size of each package (the root README's table).
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleEnvironment, startExampleEnvironment } from './lib/example-environment';
import { readmeExamples } from './lib/readme-examples';
import { type Registry, startRegistry } from './lib/registry';
import { copyRepository } from './lib/repo-copy';
import { run } from './lib/run';
import { entryExports, type Resolution, typeCheck } from './lib/type-check';

const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const version = '0.1.0';

interface Published {
  name: string;
  dir: string;
  /** The subpath specifiers of its exports map (`@homing/smtp`, `@homing/smtp/server`, ...). */
  entries: string[];
  project: string;
  tarball: string;
  size: { packages: number; bytes: number };
}

let work: string;
let registry: Registry | undefined;
let environment: ExampleEnvironment | undefined;
const published = new Map<string, Published>();
let npmEnv: NodeJS.ProcessEnv;
let unbuiltPack: { code: number; stderr: string };
const timings: string[] = [];
const attwResults = new Map<string, { code: number; stdout: string; stderr: string }>();

function publishable(root: string): { name: string; dir: string; entries: string[] }[] {
  const found: { name: string; dir: string; entries: string[] }[] = [];
  for (const parent of ['packages', 'apps']) {
    for (const child of readdirSync(join(root, parent))) {
      const file = join(root, parent, child, 'package.json');
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as {
        name: string;
        private?: boolean;
        exports?: Record<string, unknown>;
      };
      if (pkg.private) continue;
      const entries = Object.keys(pkg.exports ?? {}).map((key) =>
        key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`,
      );
      found.push({ name: pkg.name, dir: `${parent}/${child}`, entries });
    }
  }
  return found;
}

async function installAlone(name: string): Promise<{ project: string; size: Published['size'] }> {
  const project = join(work, 'projects', name.replace('@homing/', ''));
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  // No install scripts: none may reach the network (argon2's would fetch Node headers to compile
  // when its check fails; it ships prebuilt binaries, loaded at run time).
  await run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', `${name}@${version}`], {
    cwd: project,
    env: npmEnv,
  });
  const listed = await run('npm', ['ls', '--all', '--parseable', '--omit=dev'], { cwd: project, env: npmEnv });
  const packages = new Set(listed.stdout.split('\n').filter((line) => line.includes('node_modules'))).size;
  const du = await run('du', ['-sb', join(project, 'node_modules')]);
  return { project, size: { packages, bytes: Number(du.stdout.split('\t')[0]) } };
}

/**
 * argon2's prebuilt binary crashes (SIGSEGV) on some machines; its install script then compiles it,
 * which needs Node's headers from the network. The scratch installs run no install scripts, so
 * they get the binary the repository's own install compiled, when it compiled one.
 */
function reuseNativeBuilds(project: string): void {
  const built = join(repo, 'node_modules', 'argon2', 'build', 'Release', 'argon2.node');
  const target = join(project, 'node_modules', 'argon2');
  if (!existsSync(built) || !existsSync(target)) return;
  mkdirSync(join(target, 'build', 'Release'), { recursive: true });
  cpSync(built, join(target, 'build', 'Release', 'argon2.node'));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'homing-release-'));
  const copy = join(work, 'repo');
  await copyRepository(repo, copy);
  registry = await startRegistry(join(work, 'registry'), repo);
  npmEnv = {
    ...process.env,
    npm_config_userconfig: registry.npmrc,
    // changeset publish asks the registry this names (npm info, npm publish), else npmjs.org.
    npm_config_registry: registry.url,
    npm_config_cache: join(work, 'npm-cache'),
    npm_config_update_notifier: 'false',
    TURBO_TELEMETRY_DISABLED: '1',
    DO_NOT_TRACK: '1',
  };
  // The test changeset: every publishable package gets a minor bump.
  const packages = publishable(copy);
  writeFileSync(
    join(copy, '.changeset', 'release-test.md'),
    `---\n${packages.map((pkg) => `"${pkg.name}": minor`).join('\n')}\n---\n\nRelease test.\n`,
  );
  // Nothing is built in the copy: `npm run release` must build it, and packing before that fails.
  for (const pkg of packages) expect(existsSync(join(copy, pkg.dir, 'dist'))).toBe(false);
  unbuiltPack = await run('npm', ['pack', '--dry-run'], {
    cwd: join(copy, 'packages', 'dns'),
    env: npmEnv,
    allowFailure: true,
  });
  const started = Date.now();
  await run('npm', ['run', 'release'], { cwd: copy, env: npmEnv, timeoutMs: 240_000 });
  timings.push(`release ${Math.round((Date.now() - started) / 1000)} s`);
  const installing = Date.now();
  for (const pkg of packages)
    published.set(pkg.name, { ...pkg, project: '', tarball: '', size: { packages: 0, bytes: 0 } });
  const installs = [...published.values()];
  for (let index = 0; index < installs.length; index += 4) {
    await Promise.all(
      installs.slice(index, index + 4).map(async (pkg) => {
        const { project, size } = await installAlone(pkg.name);
        pkg.project = project;
        pkg.size = size;
        reuseNativeBuilds(project);
        const packed = await run('npm', ['pack', '--silent', `${pkg.name}@${version}`], { cwd: project, env: npmEnv });
        pkg.tarball = join(project, packed.stdout.trim().split('\n').pop()!);
      }),
    );
  }
  timings.push(`installs ${Math.round((Date.now() - installing) / 1000)} s`);
  // attw on every library tarball, a few at a time (each starts TypeScript).
  const checking = Date.now();
  const libraries = [...published.values()].filter((pkg) => pkg.entries.length > 0);
  for (let index = 0; index < libraries.length; index += 4) {
    await Promise.all(
      libraries.slice(index, index + 4).map(async (pkg) => {
        const attw = join(repo, 'node_modules', '.bin', 'attw');
        const args = [pkg.tarball, '--profile', 'node16', '--format', 'table-flipped'];
        attwResults.set(pkg.name, await run(attw, args, { allowFailure: true }));
      }),
    );
  }
  timings.push(`attw ${Math.round((Date.now() - checking) / 1000)} s`);
  environment = await startExampleEnvironment();
  const table = [...published.values()]
    .map((pkg) => `| \`${pkg.name}\` | ${pkg.size.packages} | ${(pkg.size.bytes / 1e6).toFixed(1)} MB |`)
    .join('\n');
  process.stdout.write(`\nRelease test: ${timings.join(', ')}\n`);
  process.stdout.write(
    `\nInstall sizes (npm install NAME in an empty project):\n| package | packages | size |\n|---|---:|---:|\n${table}\n`,
  );
}, 420_000);

afterAll(async () => {
  await environment?.close();
  await registry?.stop();
  // HOMING_RELEASE_KEEP=1 keeps the copy, the registry's storage and the scratch projects to look at.
  if (work && process.env.HOMING_RELEASE_KEEP !== '1') rmSync(work, { recursive: true, force: true });
  else if (work) process.stdout.write(`kept ${work}\n`);
});

describe('the release from a clean copy', () => {
  it('versions every publishable package to 0.1.0 with a CHANGELOG and caret ranges between them', () => {
    const copy = join(work, 'repo');
    expect([...published.keys()].sort()).toEqual(
      expect.arrayContaining(['@homing/delivery', '@homing/dkim', '@homing/dns', '@homing/mta', '@homing/smtp']),
    );
    for (const pkg of published.values()) {
      const manifest = JSON.parse(readFileSync(join(copy, pkg.dir, 'package.json'), 'utf8')) as {
        version: string;
        dependencies?: Record<string, string>;
      };
      expect(manifest.version, pkg.name).toBe(version);
      expect(readFileSync(join(copy, pkg.dir, 'CHANGELOG.md'), 'utf8'), pkg.name).toContain(`## ${version}`);
      for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) {
        if (dep.startsWith('@homing/')) expect(range, `${pkg.name} -> ${dep}`).toBe(`^${version}`);
      }
    }
  });

  it('refuses to pack a package that is not built (prepack), saying to build first', () => {
    expect(unbuiltPack.code).not.toBe(0);
    expect(unbuiltPack.stderr).toContain('@homing/dns: dist/ is missing: run `npm run build` at the repository root');
  });

  it('publishes every publishable package and not the private ones', async () => {
    for (const name of published.keys()) {
      const response = await fetch(`${registry!.url}${name.replace('/', '%2f')}`);
      expect(response.status, name).toBe(200);
      expect(((await response.json()) as { 'dist-tags': { latest: string } })['dist-tags'].latest).toBe(version);
    }
    for (const name of ['@homing/test-peers', '@homing/release-test']) {
      expect((await fetch(`${registry!.url}${name.replace('/', '%2f')}`)).status, name).toBe(404);
    }
  });
});

describe.each([
  '@homing/smtp',
  '@homing/dns',
  '@homing/dkim',
  '@homing/policy',
  '@homing/queue',
  '@homing/mta-sts',
  '@homing/delivery',
  '@homing/mta',
])('%s installed alone from the registry', (name) => {
  const pkg = () => {
    const found = published.get(name);
    if (found === undefined) throw new Error(`${name} was not published`);
    return found;
  };

  it('holds its build, README and the MIT LICENSE', () => {
    const installed = join(pkg().project, 'node_modules', name);
    expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toBe(readFileSync(join(repo, 'LICENSE'), 'utf8'));
    expect(existsSync(join(installed, 'README.md'))).toBe(true);
    expect(readdirSync(join(installed, 'dist')).length).toBeGreaterThan(0);
  });

  it('passes publint on its tarball with no errors or warnings', async () => {
    const tarball = readFileSync(pkg().tarball);
    const { messages, pkg: manifest } = await publint({
      pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
      level: 'warning',
      strict: true,
    });
    expect(messages.map((message) => formatMessage(message, manifest))).toEqual([]);
  });

  if (name === '@homing/mta') {
    // An application: no library entry points or types, its interface is the `homing` command.
    it('runs the homing command from the install: --help, and --version gives the published version', async () => {
      const bin = join(pkg().project, 'node_modules', '.bin', 'homing');
      expect((await run(bin, ['--help'], { cwd: pkg().project })).stdout).toContain('Usage: homing');
      expect((await run(bin, ['--version'], { cwd: pkg().project })).stdout.trim()).toBe(version);
    });
    return;
  }

  it('passes attw on its tarball (node10 declared unsupported)', () => {
    const result = attwResults.get(name)!;
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });

  it('loads as ESM and as CJS with the same exports on every entry', async () => {
    for (const entry of pkg().entries) {
      const esm = await run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import * as m from '${entry}'; console.log(JSON.stringify(Object.keys(m).filter((k) => k !== 'default').sort()))`,
        ],
        { cwd: pkg().project },
      );
      const cjs = await run(
        process.execPath,
        ['-e', `console.log(JSON.stringify(Object.keys(require('${entry}')).sort()))`],
        { cwd: pkg().project },
      );
      expect(JSON.parse(cjs.stdout), entry).toEqual(JSON.parse(esm.stdout));
      expect(JSON.parse(esm.stdout).length, entry).toBeGreaterThan(0);
    }
  });

  it('runs its README examples unchanged but for loopback addresses, as ESM and as CJS', async (context) => {
    const examples = readmeExamples(readFileSync(join(pkg().project, 'node_modules', name, 'README.md'), 'utf8'));
    const plan = environment!.planFor(name, examples.length);
    if (plan.skip) {
      context.skip(plan.skip);
      return;
    }
    for (const format of ['esm', 'cjs'] as const) {
      const outputs = await environment!.runExamples(name, examples, format, pkg().project);
      plan.check(outputs, format);
    }
  });
});

describe('types', () => {
  it.each(['nodenext', 'node16', 'bundler'] as Resolution[])(
    'every public export of every library package type-checks under moduleResolution %s (ESM and CJS files)',
    (resolution) => {
      const targets = [...published.values()]
        .filter((pkg) => pkg.entries.length > 0)
        .map((pkg) => ({ project: pkg.project, entries: entryExports(pkg.project, pkg.entries) }));
      expect(targets.length).toBeGreaterThanOrEqual(7);
      for (const target of targets) {
        for (const entry of target.entries) {
          expect(entry.values.length + entry.types.length, entry.specifier).toBeGreaterThan(0);
        }
      }
      expect(typeCheck(targets, resolution, repo)).toEqual([]);
    },
  );
});

describe('lean installs', () => {
  it('installs no verifier stack with @homing/delivery or @homing/smtp', () => {
    for (const name of ['@homing/delivery', '@homing/smtp', '@homing/mta-sts']) {
      const modules = join(published.get(name)!.project, 'node_modules');
      for (const heavy of ['mailauth', 'nodemailer', 'joi', 'yargs']) {
        expect(existsSync(join(modules, heavy)), `${name} pulls ${heavy}`).toBe(false);
      }
    }
  });
});

describe('one error class across entry points, from the tarball', () => {
  it.each(['esm', 'cjs'])(
    'an error thrown by @homing/smtp/server is instanceof @homing/smtp SmtpError under %s',
    async (format) => {
      const project = published.get('@homing/smtp')!.project;
      const body = `const error = await createServer({}).listen({ host: '127.0.0.1', port: 0, implicitTls: true }).catch((e) => e);
console.log(JSON.stringify({ code: error.code, same: error instanceof SmtpError, client: new SmtpClientError('TIMEOUT', 'x') instanceof SmtpError }));`;
      const script =
        format === 'esm'
          ? `import { SmtpError } from '@homing/smtp';\nimport { createServer } from '@homing/smtp/server';\nimport { SmtpClientError } from '@homing/smtp/client';\n${body}`
          : `const { SmtpError } = require('@homing/smtp');\nconst { createServer } = require('@homing/smtp/server');\nconst { SmtpClientError } = require('@homing/smtp/client');\n(async () => {\n${body}\n})();`;
      const file = join(project, `error-class.${format === 'esm' ? 'mjs' : 'cjs'}`);
      writeFileSync(file, script);
      const result = await run(process.execPath, [file], { cwd: project });
      expect(JSON.parse(result.stdout)).toEqual({ code: 'SMTP_TLS_CONFIG', same: true, client: true });
    },
  );
});
