// The battery's server: apps/mta's end-to-end harness (a real `homing start` on loopback with the
// loopback DNS server), plus what the battery needs on top: the process's peak RSS, whether it
// died on its own (a crash), kill -9 and restart on the same state, and a look into the spool.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cleanUp,
  type HomingServer,
  type HomingServerOptions,
  startHoming,
} from '../../../apps/mta/test/server/harness';

export type { HomingServer };

/** A server the battery watches: `crashes` counts exits nobody asked for. */
export interface BatteryServer {
  readonly current: HomingServer;
  /** Exits that were not our SIGTERM or SIGKILL. */
  readonly crashes: number;
  /** The highest VmHWM (peak resident set, bytes) of any process of this server so far. */
  peakRss(): number;
  /** The current resident set (VmRSS) in bytes. */
  rss(): number;
  /** True while the process runs. */
  alive(): boolean;
  /** kill -9, then waits for the exit. */
  kill9(): Promise<void>;
  /** Starts again on the same directory, ports, DNS and certificate. */
  restart(): Promise<void>;
  /** Messages in the spool (files that look like message bodies, without the temporary ones). */
  spoolEntries(): string[];
  /** Stops it and removes everything. */
  close(): Promise<void>;
}

function procStatus(pid: number | undefined, field: 'VmHWM' | 'VmRSS'): number {
  if (pid === undefined) return 0;
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(path));
    else out.push(path);
  }
  return out;
}

/** Starts a watched `homing start`. */
export async function startBatteryServer(options: HomingServerOptions = {}): Promise<BatteryServer> {
  let current = await startHoming(options);
  let crashes = 0;
  let peak = 0;
  let expectingExit = false;
  const watch = (server: HomingServer) => {
    const sampler = setInterval(() => {
      peak = Math.max(peak, procStatus(server.child.pid, 'VmHWM'));
    }, 200);
    sampler.unref();
    server.child.once('exit', (code, signal) => {
      clearInterval(sampler);
      if (!expectingExit) {
        crashes++;
        process.stderr.write(`homing start exited by itself (code ${code}, signal ${signal})\n${server.stderr()}\n`);
      }
    });
  };
  watch(current);
  const sample = () => {
    peak = Math.max(peak, procStatus(current.child.pid, 'VmHWM'));
  };
  return {
    get current() {
      return current;
    },
    get crashes() {
      return crashes;
    },
    peakRss() {
      sample();
      return peak;
    },
    rss: () => procStatus(current.child.pid, 'VmRSS'),
    alive: () => current.child.exitCode === null && current.child.signalCode === null,
    async kill9() {
      sample();
      expectingExit = true;
      const exited = new Promise((resolve) => current.child.once('exit', resolve));
      if (current.child.exitCode === null && current.child.signalCode === null) current.child.kill('SIGKILL');
      await exited;
    },
    async restart() {
      const previous = current;
      expectingExit = false;
      current = await startHoming({
        ...options,
        dir: previous.dir,
        dns: previous.dns,
        cert: previous.cert,
        ports: {
          mx: previous.mxPort,
          submission: previous.submissionPort,
          submissions: previous.submissionsPort,
          metrics: previous.metricsPort,
        },
      });
      watch(current);
    },
    spoolEntries: () => listFiles(join(current.state, 'spool')).filter((path) => !/\.tmp$|\/tmp\/|\.lock$/.test(path)),
    async close() {
      sample();
      expectingExit = true;
      await cleanUp(current);
    },
  };
}
