// Starts NSD (the authoritative server of NLnet Labs, Debian package nsd) on a loopback port with its own
// configuration in a temporary directory, for the comparison in nsd-compare.test.ts.
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

/** A running NSD. */
export interface Nsd {
  port: number;
  stop(): Promise<void>;
}

/** Where nsd is installed (Debian puts it in /usr/sbin), or undefined. */
export function findNsd(): string | undefined {
  for (const dir of ['/usr/sbin', '/usr/local/sbin', ...(process.env.PATH ?? '').split(':')]) {
    const candidate = join(dir, 'nsd');
    if (dir !== '' && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** A port free on 127.0.0.1 for TCP at this moment (NSD binds UDP and TCP on it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts `nsd -d` serving `zones` (origin → zone file), and waits until it answers on its port. */
export async function startNsd(binary: string, zones: Record<string, string>): Promise<Nsd> {
  const dir = await mkdtemp(join(tmpdir(), 'homing-nsd-'));
  for (const file of Object.values(zones)) await copyFile(file, join(dir, basename(file)));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    // username "" keeps NSD in our own user (root in CI): it reads the files we wrote and needs no nsd account.
    const config = [
      'server:',
      `  ip-address: 127.0.0.1@${port}`,
      '  do-ip6: no',
      '  username: ""',
      '  chroot: ""',
      `  zonesdir: "${dir}"`,
      '  database: ""',
      `  zonelistfile: "${dir}/zone.list"`,
      `  pidfile: "${dir}/nsd.pid"`,
      `  xfrdfile: "${dir}/xfrd.state"`,
      `  xfrdir: "${dir}"`,
      `  logfile: "${dir}/nsd.log"`,
      '  hide-version: yes',
      '  hide-identity: yes',
      '  server-count: 1',
      '  verbosity: 1',
      'remote-control:',
      '  control-enable: no',
      ...Object.entries(zones).flatMap(([origin, file]) => [
        'zone:',
        `  name: ${origin}`,
        `  zonefile: ${basename(file)}`,
      ]),
    ].join('\n');
    await writeFile(join(dir, 'nsd.conf'), `${config}\n`);
    const child = spawn(binary, ['-d', '-c', join(dir, 'nsd.conf')], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (await answers(port, child)) {
      return {
        port,
        async stop() {
          child.kill('SIGTERM'); // only the process we started; it stops its own server children
          await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    child.kill('SIGKILL');
    await exited;
    if (attempt >= 3) {
      const log = await readFile(join(dir, 'nsd.log'), 'utf8').catch(() => '(no log)');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`nsd did not start on 127.0.0.1:${port}: ${log}`);
    }
  }
}

/** Polls the port with a SOA query for up to 5 s; false when NSD exits first (e.g. the port was taken). */
async function answers(port: number, child: ChildProcess): Promise<boolean> {
  const query = Buffer.from('00010000000100000000000004746573740000060001', 'hex'); // "test SOA", any answer will do
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && child.exitCode === null) {
    const got = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      const timer = setTimeout(() => {
        socket.close();
        resolve(false);
      }, 200);
      socket.on('message', () => {
        clearTimeout(timer);
        socket.close();
        resolve(true);
      });
      socket.on('error', () => undefined);
      socket.send(query, port, '127.0.0.1');
    });
    if (got) return true;
  }
  return false;
}
