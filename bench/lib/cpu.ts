// Where the CPU of a mail server benchmark goes, from /proc (Linux): the server's processes, the
// load generator, and how busy the machine's cores were, so that a figure says whether a server was
// CPU-bound and how much of the 2 cores smtp-source and the kernel's loopback TCP left it.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK))

interface ProcStat {
  ppid: number;
  /** utime + stime, s */
  own: number;
  /** cutime + cstime (children waited for), s */
  children: number;
}

function procStat(pid: number | 'self'): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces and parentheses: state is field 3.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const number = (field: number) => Number(fields[field - 3]);
    return {
      ppid: number(4),
      own: (number(14) + number(15)) / TICKS_PER_SECOND,
      children: (number(16) + number(17)) / TICKS_PER_SECOND,
    };
  } catch {
    return undefined; // gone meanwhile
  }
}

/** CPU seconds (user + system, every thread) one process has used so far. */
export function processCpuSeconds(pid: number): number {
  return procStat(pid)?.own ?? 0;
}

/** CPU seconds of the children this process has waited for (smtp-source runs, say). */
export function childrenCpuSeconds(): number {
  return procStat('self')?.children ?? 0;
}

/**
 * CPU seconds of every live process whose executable lies under `directory` (Postfix's daemons:
 * master, smtpd, cleanup, qmgr, local...), plus what their exited children used (a daemon that
 * exits after max_use is counted by its master). A difference of two readings is the CPU used
 * between them, daemons started or ended meanwhile included.
 */
export function treeCpuSeconds(directory: string): number {
  let total = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let exe: string;
    try {
      exe = readlinkSync(`/proc/${name}/exe`);
    } catch {
      continue;
    }
    if (!exe.startsWith(directory)) continue;
    const stat = procStat(Number(name));
    if (stat !== undefined) total += stat.own + stat.children;
  }
  return total;
}

/** The machine's CPU time so far, s summed over cores: busy (user, nice, system, irq, softirq, steal) and idle. */
export function machineCpuSeconds(): { busy: number; idle: number } {
  const [, ...values] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = values.map(Number) as number[];
  return {
    busy: (user! + nice! + system! + irq! + softirq! + steal!) / TICKS_PER_SECOND,
    idle: (idle! + iowait!) / TICKS_PER_SECOND,
  };
}

/** What one measured run used: µs of CPU per message of the server and of the load generator, and the machine's idle share. */
export interface CpuFigures {
  serverMicros: number;
  sourceMicros: number;
  /** The share of all cores' time that was idle (iowait included) during the run, 0..1. */
  idle: number;
}

/** Runs `run` (which sends `messages`) and gives the CPU figures around it; `server` reads the server's CPU seconds. */
export async function withCpuFigures<T>(
  messages: number,
  server: () => number,
  run: () => Promise<T>,
): Promise<{ result: T; cpu: CpuFigures }> {
  const [server0, source0, machine0] = [server(), childrenCpuSeconds(), machineCpuSeconds()];
  const result = await run();
  const [server1, source1, machine1] = [server(), childrenCpuSeconds(), machineCpuSeconds()];
  const busy = machine1.busy - machine0.busy;
  const idle = machine1.idle - machine0.idle;
  return {
    result,
    cpu: {
      serverMicros: ((server1 - server0) * 1e6) / messages,
      sourceMicros: ((source1 - source0) * 1e6) / messages,
      idle: busy + idle > 0 ? idle / (busy + idle) : 0,
    },
  };
}

/** CPU seconds of one process (its threads, and the children it reaped); of its main thread alone with `mainThread`. */
export function processTreeCpu(pid: number, mainThread = false): number {
  try {
    const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 of proc(5) (utime, stime, cutime, cstime) are 11-14 after the name and state.
    return fields.slice(11, 15).reduce((sum, field) => sum + Number(field), 0) / TICKS_PER_SECOND;
  } catch {
    return 0; // it exited meanwhile: its time went to its parent's cutime
  }
}

/** CPU seconds of every process whose working directory is under `directory` (Postfix's daemons chdir to their queue). */
export function cpuOfProcessesIn(directory: string): number {
  let sum = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/cwd`).startsWith(directory)) sum += processTreeCpu(Number(name));
    } catch {}
  }
  return sum;
}

/** CPU seconds of `pid` and its live children (the ones that exited are in its cutime). */
export function withChildrenCpu(pid: number): number {
  let sum = processTreeCpu(pid);
  for (const name of readdirSync('/proc'))
    if (/^\d+$/.test(name) && procStat(Number(name))?.ppid === pid) sum += processTreeCpu(Number(name));
  return sum;
}

/** The child of this process running `command` (its /proc comm), e.g. smtp-sink. */
export function childNamed(command: string): number {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || procStat(Number(name))?.ppid !== process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() === command) return Number(name);
    } catch {}
  }
  throw new Error(`cannot find this process's ${command} child`);
}
