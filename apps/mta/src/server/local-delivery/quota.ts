// The per-mailbox quota (`quota: 1G`): the RCPT hook asks `overQuota` (452 4.2.2 at RCPT when it
// is already known), and local delivery asks `wouldExceed` before writing (a deferral, so the
// message waits in the queue on its retry schedule until the user makes room, or it expires).
import type { MaildirStore } from './maildir';

/** Options of `createQuotaCheck`. */
export interface QuotaCheckOptions {
  store: Pick<MaildirStore, 'usage'>;
  /** Bytes per mailbox, or a function giving the current figure (the config may be reloaded); undefined: none. */
  quota: number | undefined | (() => number | undefined);
}

/** The quota questions, answered from the store's cached usage figures. */
export interface QuotaCheck {
  /** True when the mailbox holds at least its quota already. */
  overQuota(mailbox: string): Promise<boolean>;
  /** True when a message of `bytes` would take the mailbox past its quota. */
  wouldExceed(mailbox: string, bytes: number): Promise<boolean>;
}

/** Creates the quota check of a store. */
export function createQuotaCheck(options: QuotaCheckOptions): QuotaCheck {
  const limit = typeof options.quota === 'function' ? options.quota : () => options.quota as number | undefined;
  return {
    async overQuota(mailbox) {
      const quota = limit();
      return quota !== undefined && (await options.store.usage(mailbox)) >= quota;
    },
    async wouldExceed(mailbox, bytes) {
      const quota = limit();
      return quota !== undefined && (await options.store.usage(mailbox)) + bytes > quota;
    },
  };
}
