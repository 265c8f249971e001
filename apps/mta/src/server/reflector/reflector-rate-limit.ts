// How often the reflector answers: a sliding hour per envelope sender and per client address,
// so it can be neither a spam cannon (its reports go to addresses others chose) nor a way to
// flood one mailbox. In memory: a restart forgets, which only ever allows a little more.

/** The reflector's limits (per hour). */
export interface ReflectorLimits {
  perSender: number;
  perClient: number;
}

/** The defaults: enough for anyone testing, too little for abuse. */
export const defaultReflectorLimits: ReflectorLimits = { perSender: 10, perClient: 30 };

const HOUR = 3_600_000;

/** Counts reports by sender and client; `take` says whether one more is allowed now. */
export class ReflectorRateLimit {
  private readonly seen = new Map<string, number[]>();

  constructor(
    private readonly limits: ReflectorLimits = defaultReflectorLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a report for (sender, client) when both are under their limits; else says which is not and for how long. */
  take(sender: string, client: string): { ok: true } | { ok: false; key: 'sender' | 'client'; retryAfterMs: number } {
    const at = this.now();
    const senderKey = `s:${sender.toLowerCase()}`;
    const clientKey = `c:${client}`;
    for (const [key, limit, which] of [
      [senderKey, this.limits.perSender, 'sender'],
      [clientKey, this.limits.perClient, 'client'],
    ] as const) {
      const times = this.recent(key, at);
      if (times.length >= limit) return { ok: false, key: which, retryAfterMs: times[0]! + HOUR - at };
    }
    this.recent(senderKey, at).push(at);
    this.recent(clientKey, at).push(at);
    if (this.seen.size > 100_000) this.prune(at);
    return { ok: true };
  }

  private recent(key: string, at: number): number[] {
    const times = (this.seen.get(key) ?? []).filter((time) => time > at - HOUR);
    this.seen.set(key, times);
    return times;
  }

  private prune(at: number): void {
    for (const [key, times] of this.seen) if (!times.some((time) => time > at - HOUR)) this.seen.delete(key);
  }
}
