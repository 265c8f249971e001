// Where the command line finds a server from its config: the control socket and the spool.

import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { isConfigError } from '../../config/config-error';
import { defaults } from '../../config/config-schema';
import type { QueueConfig } from '../../config/config-types';
import { loadConfig } from '../../config/load-config';

/** Where a server of one config listens and keeps its queue. */
export interface ServerLocation {
  /** The control socket (`listen.control`). */
  control: string;
  /** The spool directory (`{state}/spool`). */
  spool: string;
  /** The PostgreSQL queue of `queue: postgres://...`, when the config names one (instead of the spool). */
  queue?: QueueConfig;
  /** When the config has errors elsewhere: what loadConfig said (the paths came from the raw YAML). */
  configProblem?: string;
}

/**
 * Reads the control socket and spool from the config the server runs on. A config that is wrong
 * in another key still names them (a user who broke `tls.cert` must still be able to look at the
 * queue, and `homing reload` must reach the server to hear its verdict), so on a config error the
 * two paths are taken from the raw YAML with the same defaults and the error is kept.
 */
export async function locateServer(file: string): Promise<ServerLocation> {
  try {
    const config = await loadConfig(file);
    const location: ServerLocation = { control: config.listen.control, spool: join(config.state, 'spool') };
    if (config.queue !== undefined) location.queue = config.queue;
    return location;
  } catch (error) {
    if (!isConfigError(error, 'INVALID_CONFIG')) {
      if (isConfigError(error, 'FILE_NOT_FOUND')) {
        throw new Error(
          `no config file ${file}: pass --config FILE (the one the server runs on), or --spool DIR to work on a spool directly`,
          { cause: error },
        );
      }
      throw error;
    }
    const raw = await rawPaths(file).catch(() => undefined);
    if (raw === undefined) throw error;
    return { ...raw, configProblem: (error as Error).message };
  }
}

async function rawPaths(file: string): Promise<{ control: string; spool: string }> {
  const input: unknown = parse(await readFile(file, 'utf8'));
  const text = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(dirname(file), path));
  const object = typeof input === 'object' && input !== null ? (input as Record<string, unknown>) : {};
  const state = absolute(text(object.state) ?? defaults.state);
  const listen = typeof object.listen === 'object' && object.listen !== null ? object.listen : {};
  const control = text((listen as Record<string, unknown>).control);
  return {
    control: control === undefined ? join(state, 'control.sock') : absolute(control),
    spool: join(state, 'spool'),
  };
}
