// The same option has the same name in every @homing package (docs/naming.md). The type-level
// checks fail at `tsc --noEmit -p apps/mta` (the typecheck task) when a package drifts; the
// run-time checks fail under vitest. The mta is the one place that depends on every package.

import { Writable } from 'node:stream';
import type {
  DaneMatchOptions,
  Logger as DeliveryLogger,
  DeliveryOptions,
  DeliveryWorkerOptions,
  HostsLookupOptions,
} from '@homing/delivery';
import type { SignerOptions } from '@homing/dkim';
import type { Logger as DnsLogger, ResolverOptions } from '@homing/dns';
import type { MtaStsOptions, Logger as PolicyLogger, SpfOptions } from '@homing/policy';
import type { FileQueueOptions, Logger as QueueLogger } from '@homing/queue';
import type { Logger as SmtpLogger } from '@homing/smtp';
import {
  type Logger as ClientLogger,
  type ClientTimeouts,
  type ConnectOptions,
  DEFAULT_CLIENT_TIMEOUTS,
} from '@homing/smtp/client';
import {
  DEFAULT_LIMITS,
  type Logger as ServerLogger,
  type SmtpServerLimits,
  type SmtpServerOptions,
} from '@homing/smtp/server';
import pino from 'pino';
import { describe, expect, it } from 'vitest';

// Identical types (not only mutually assignable): the usual conditional-type identity check.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
type Lacks<T, K extends PropertyKey> = K extends keyof T ? false : true;
type Has<T, K extends PropertyKey> = K extends keyof T ? true : false;

// One logger shape: each package's `Logger` is identical to every other one.
export type LoggersAreOne = [
  Assert<Equal<SmtpLogger, ClientLogger>>,
  Assert<Equal<SmtpLogger, ServerLogger>>,
  Assert<Equal<SmtpLogger, DnsLogger>>,
  Assert<Equal<SmtpLogger, PolicyLogger>>,
  Assert<Equal<SmtpLogger, QueueLogger>>,
  Assert<Equal<SmtpLogger, DeliveryLogger>>,
];

// ...and it is what every `logger` option takes.
export type LoggerOptions = [
  Assert<Equal<SmtpServerOptions['logger'], SmtpLogger | undefined>>,
  Assert<Equal<ConnectOptions['logger'], SmtpLogger | undefined>>,
  Assert<Equal<ResolverOptions['logger'], SmtpLogger | undefined>>,
  Assert<Equal<SpfOptions['logger'], SmtpLogger | undefined>>,
  Assert<Equal<MtaStsOptions['logger'], SmtpLogger | undefined>>,
  Assert<Equal<FileQueueOptions['logger'], SmtpLogger | undefined>>,
  Assert<Equal<DeliveryOptions['logger'], SmtpLogger | undefined>>,
  Assert<Equal<DeliveryWorkerOptions['logger'], SmtpLogger | undefined>>,
];

// One clock: `now?: () => number`, milliseconds since the epoch.
type Clock = (() => number) | undefined;
type DnsCache = Exclude<ResolverOptions['cache'], false | undefined>;
export type Clocks = [
  Assert<Equal<DnsCache['now'], Clock>>,
  Assert<Equal<SignerOptions['now'], Clock>>,
  Assert<Equal<SpfOptions['now'], Clock>>,
  Assert<Equal<MtaStsOptions['now'], Clock>>,
  Assert<Equal<FileQueueOptions['now'], Clock>>,
  Assert<Equal<DeliveryWorkerOptions['now'], Clock>>,
  Assert<Equal<DaneMatchOptions['now'], Clock>>,
  Assert<Equal<HostsLookupOptions['now'], Clock>>,
  Assert<Lacks<DnsCache, 'clock'>>,
  Assert<Lacks<FileQueueOptions, 'clock'>>,
];

// Durations end in `Ms`, limits start with `max`.
export type DurationsAndLimits = [
  Assert<Equal<Exclude<keyof ClientTimeouts, `${string}Ms`>, never>>,
  Assert<Equal<Exclude<keyof SmtpServerLimits, `${string}Ms` | `max${string}`>, never>>,
  Assert<Has<SmtpServerLimits, 'maxRecipients'>>,
  Assert<Has<DeliveryOptions, 'maxRecipients'>>,
  Assert<Lacks<DeliveryOptions, 'maxRecipientsPerMessage'>>,
  Assert<Has<DeliveryOptions, 'idleTimeoutMs'>>,
  Assert<Has<ResolverOptions, 'timeoutMs'>>,
  Assert<Has<SpfOptions, 'timeoutMs'>>,
];

// Our host name is `hostname`.
export type HostNames = [
  Assert<Has<SmtpServerOptions, 'hostname'>>,
  Assert<Has<ConnectOptions, 'hostname'>>,
  Assert<Lacks<ConnectOptions, 'name'>>,
  Assert<Has<SpfOptions, 'hostname'>>,
  Assert<Has<DeliveryOptions, 'hostname'>>,
  Assert<Has<DeliveryWorkerOptions, 'hostname'>>,
  Assert<Lacks<DeliveryWorkerOptions, 'reportingMta'>>,
];

describe('the same option, the same name (docs/naming.md)', () => {
  it('names every smtp server limit max… and every duration …Ms', () => {
    const odd = Object.keys(DEFAULT_LIMITS).filter((key) => !/^max[A-Z]|Ms$/.test(key));
    expect(odd).toEqual([]);
    expect(DEFAULT_LIMITS.maxRecipients).toBe(100);
  });

  it('names every smtp client timeout …Ms', () => {
    expect(Object.keys(DEFAULT_CLIENT_TIMEOUTS).filter((key) => !key.endsWith('Ms'))).toEqual([]);
  });

  it('takes a pino logger as every package’s Logger, its message after the object', () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = pino({ level: 'debug', base: null, timestamp: false }, stream);
    const asEach: [SmtpLogger, DnsLogger, PolicyLogger, QueueLogger, DeliveryLogger] = [
      logger,
      logger,
      logger,
      logger.child({ subsystem: 'delivery' }),
      logger,
    ];
    for (const [index, each] of asEach.entries()) each.info({ index }, 'one shape');
    expect(lines.map((line) => JSON.parse(line))).toEqual(
      [0, 1, 2, 3, 4].map((index) => ({
        level: 30,
        index,
        msg: 'one shape',
        ...(index === 3 ? { subsystem: 'delivery' } : {}),
      })),
    );
  });
});
