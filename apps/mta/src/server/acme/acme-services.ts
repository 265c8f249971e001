// What `homing start` runs when `tls.acme` is on: the ACME manager, the MTA-STS policy over
// HTTPS with the same certificate, and the `acme.renew` control command. The server makes one
// call to start it and one to hand it the SMTP listeners' swap.
import type { Config } from '../../config/config-types';
import type { ControlHandler } from '../control/control-commands';
import { type MtaStsServer, startMtaStsServer } from '../mta-sts/mta-sts-server';
import type { EventLog } from '../observability/observability-types';
import { type AcmeManager, startAcme, type TlsPair } from './acme-manager';

/** ACME and what rides on its certificate. */
export interface AcmeServices {
  readonly manager: AcmeManager;
  readonly mtaSts: MtaStsServer | undefined;
  /** Control commands: `acme.renew` (args `{ force?: boolean }`, default true) and `acme.status`. */
  readonly commands: Record<string, ControlHandler>;
  /** Calls `swap` with each new certificate; at once if one came since the start. */
  onCertificate(swap: (tls: TlsPair) => void): void;
  close(): Promise<void>;
}

/** Starts ACME for a config with `tls.acme`; undefined when it has none. */
export async function startAcmeServices(options: {
  config: Config;
  liveConfig: () => Config;
  log: EventLog;
}): Promise<AcmeServices | undefined> {
  const acme = options.config.tls.acme;
  if (acme === undefined) return undefined;
  const manager = await startAcme(options);
  const atStart = manager.current();
  let mtaSts: MtaStsServer | undefined;
  try {
    mtaSts =
      acme.https.length === 0
        ? undefined
        : await startMtaStsServer({
            addresses: acme.https,
            tls: atStart,
            config: options.liveConfig,
            log: options.log,
          });
  } catch (error) {
    await manager.close();
    throw error;
  }
  if (mtaSts !== undefined) manager.onCertificate((tls) => mtaSts.setTls(tls));
  return {
    manager,
    mtaSts,
    commands: {
      'acme.renew': async (args) => manager.renew({ force: args.force !== false }),
      'acme.status': async () => manager.renew({ force: false }),
    },
    onCertificate(swap) {
      manager.onCertificate(swap);
      if (manager.current() !== atStart) swap(manager.current());
    },
    async close() {
      await Promise.all([manager.close(), mtaSts?.close()]);
    },
  };
}
