// Certificates by ACME for the running server: at start the certificate in `{state}/acme/` (or a
// self-signed stand-in) goes to the listeners at once, the order runs in the background, and a
// timer renews it when less than `renew_before` is left. Each new certificate is handed to the
// subscribers (the SMTP listeners' setTls, the MTA-STS HTTPS server), so no restart is needed.
import type { Config } from '../../config/config-types';
import type { EventLog } from '../observability/observability-types';
import { AcmeError } from './acme-error';
import { issueCertificate } from './acme-issuer';
import { type AcmeStore, describeCertificate, openAcmeStore } from './certificate-store';
import { type HttpChallengeServer, startHttpChallengeServer } from './http-challenge-server';
import { certificateNames, decideRenewal } from './renewal-decision';

/** A key and certificate chain, as the TLS listeners take them. */
export interface TlsPair {
  key: Buffer;
  cert: Buffer;
}

/** What a check did: kept the certificate or issued one. */
export interface RenewalOutcome {
  issued: boolean;
  reason?: string;
  names: string[];
  notAfter: string;
}

/** The running ACME part of the server. */
export interface AcmeManager {
  /** The certificate in force. */
  current(): TlsPair;
  /** Calls `listener` with every new certificate from now on. */
  onCertificate(listener: (tls: TlsPair) => void): void;
  /** Checks now (with `force`, issues even when not due); resolves once kept or issued. */
  renew(options?: { force?: boolean }): Promise<RenewalOutcome>;
  readonly httpAddresses: HttpChallengeServer['addresses'];
  close(): Promise<void>;
}

const DAY = 86_400_000;
// A check at least twice a day, so a clock jump or a lost timer is never more than 12 h late.
const MAX_CHECK_INTERVAL = DAY / 2;
// After a failed order: 5 minutes, doubling up to 6 hours (Let's Encrypt allows 5 failed validations an hour).
const FIRST_RETRY = 5 * 60_000;
const MAX_RETRY = 6 * 3_600_000;

/** Starts ACME for `config` (which must have `tls.acme`); `liveConfig` gives the config after reloads. */
export async function startAcme(options: {
  config: Config;
  liveConfig?: () => Config;
  log: EventLog;
  now?: () => number;
}): Promise<AcmeManager> {
  const { log } = options;
  const now = options.now ?? Date.now;
  const live = options.liveConfig ?? (() => options.config);
  const first = options.config;
  if (first.tls.acme === undefined) throw new AcmeError('NOT_ENABLED', 'tls.acme is not set in the config');
  const store: AcmeStore = await openAcmeStore(`${first.state}/acme`, {
    certPath: first.tls.cert,
    keyPath: first.tls.key,
  });
  await store.ensureStandIn(certificateNames(first.hostname, first.domains));
  const stored = await store.readCertificate();
  let current: TlsPair = { key: stored!.key, cert: stored!.cert };
  const listeners: ((tls: TlsPair) => void)[] = [];
  const challenges = await startHttpChallengeServer(first.tls.acme.http, (token, found, from) =>
    log.event(log.runId, 'acme', 'challenge-fetched', { token, found, from }),
  );

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<RenewalOutcome> | undefined;
  let retryMs = FIRST_RETRY;
  let closed = false;

  const schedule = (delayMs: number) => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void check(false).catch(() => {}), Math.max(1000, Math.min(delayMs, MAX_CHECK_INTERVAL)));
    timer.unref();
  };

  async function runCheck(force: boolean): Promise<RenewalOutcome> {
    const config = live();
    const acme = config.tls.acme ?? first.tls.acme!;
    const names = certificateNames(config.hostname, config.domains);
    const held = await store.readCertificate();
    const decision = decideRenewal({
      stored: held?.info,
      wanted: names,
      nowMs: now(),
      renewBeforeMs: acme.renewBeforeMs,
      forced: force,
    });
    if (decision.action === 'keep') {
      schedule(decision.renewAtMs - now());
      return { issued: false, names: held!.info.names, notAfter: new Date(held!.info.notAfterMs).toISOString() };
    }
    log.event(log.runId, 'acme', 'ordering', { reason: decision.reason, names: names.join(','), ca: acme.directory });
    let pems: { key: string; cert: string };
    try {
      pems = await issueCertificate({
        acme,
        names,
        store,
        challenges,
        onChallenge: (name, type) => log.event(log.runId, 'acme', 'challenge', { name, type }),
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log.event(log.runId, 'acme', 'order-failed', { error: message, retry: `${Math.round(retryMs / 60_000)}m` });
      schedule(retryMs);
      retryMs = Math.min(retryMs * 2, MAX_RETRY);
      throw new AcmeError('ISSUE_FAILED', `the CA did not issue a certificate: ${message}`, { cause: error });
    }
    retryMs = FIRST_RETRY;
    const info = describeCertificate(pems.cert);
    current = { key: Buffer.from(pems.key), cert: Buffer.from(pems.cert) };
    for (const listener of listeners) listener(current);
    const notAfter = new Date(info.notAfterMs).toISOString();
    log.event(log.runId, 'acme', 'issued', {
      reason: decision.reason,
      names: info.names.join(','),
      not_after: notAfter,
    });
    schedule(info.notAfterMs - acme.renewBeforeMs - now());
    return { issued: true, reason: decision.reason, names: info.names, notAfter };
  }

  // One order at a time: a forced renewal during a scheduled one waits for it, then runs.
  async function check(force: boolean): Promise<RenewalOutcome> {
    while (running !== undefined) await running.catch(() => {});
    running = runCheck(force);
    try {
      return await running;
    } finally {
      running = undefined;
    }
  }

  // The first check runs in the background: the server must not wait on the CA to start.
  setImmediate(() => void check(false).catch(() => {}));

  return {
    current: () => current,
    onCertificate: (listener) => listeners.push(listener),
    renew: (renewOptions) => check(renewOptions?.force === true),
    httpAddresses: challenges.addresses,
    async close() {
      closed = true;
      clearTimeout(timer);
      await challenges.close();
      // An order under way fails soon without its responder; the server does not wait longer for it.
      await Promise.race([running?.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    },
  };
}
