// The battery's SMTP clients: a well-behaved sender whose every message carries an id and whose
// latency is measured, and the check of a Maildir against what got a 250 (count and checksum).
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { converse } from '../../../apps/mta/test/server/smtp-talk';
import type { HomingServer } from './battery-server';

export { type Conversation, converse } from '../../../apps/mta/test/server/smtp-talk';

/** A message of the battery: its id in a header, so the Maildir copy can be found and checked. */
export function batteryMessage(id: string, extraLines = 3, from = 'someone@sender.test'): string {
  const lines = [
    `From: ${from}`,
    'To: alice@example.org',
    `Subject: battery ${id}`,
    `Message-ID: <${id}@sender.test>`,
    `X-Battery-Id: ${id}`,
    '',
    ...Array.from({ length: extraLines }, (_, i) => `line ${i} of ${id}`),
    '',
  ];
  return lines.join('\r\n');
}

/** sha256 of a message from its X-Battery-Id header on (what the server stored after its own trace headers). */
export function checksumFrom(text: string): string | undefined {
  const start = text.search(/^X-Battery-Id: /m);
  if (start < 0) return undefined;
  return createHash('sha256').update(text.slice(start)).digest('hex');
}

/** The checksum the Maildir copy of `batteryMessage(id)` must have. */
export function expectedChecksum(message: string): string {
  return checksumFrom(message)!;
}

export interface SendResult {
  /** The reply to the end of data (or to the command that failed). */
  reply: string;
  accepted: boolean;
  latencyMs: number;
}

/**
 * One whole session: connect, EHLO, MAIL, RCPT, DATA, the message, QUIT; the latency is from
 * connect to the reply after the data. Never throws: a failure is a reply that says so.
 */
export async function sendMessage(
  port: number,
  message: string,
  options: { from?: string; to?: string; localAddress?: string; timeoutMs?: number } = {},
): Promise<SendResult> {
  const started = performance.now();
  const timeout = options.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const work = (async (): Promise<SendResult> => {
    const c = await converse(port, options.localAddress);
    try {
      if (!c.greeting.startsWith('220')) return { reply: c.greeting, accepted: false, latencyMs: 0 };
      for (const line of [
        'EHLO client.sender.test',
        `MAIL FROM:<${options.from ?? 'someone@sender.test'}>`,
        `RCPT TO:<${options.to ?? 'alice@example.org'}>`,
        'DATA',
      ]) {
        const r = await c.send(line);
        if (!/^[23]/.test(r)) return { reply: r, accepted: false, latencyMs: performance.now() - started };
      }
      const stuffed = message.replace(/^\./gm, '..');
      const r = await c.sendRaw(`${stuffed}${stuffed.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
      const latencyMs = performance.now() - started;
      await c.send('QUIT').catch(() => '');
      return { reply: r, accepted: r.startsWith('250'), latencyMs };
    } finally {
      c.close();
    }
  })();
  const limit = new Promise<SendResult>((resolve) => {
    timer = setTimeout(
      () => resolve({ reply: `no answer in ${timeout} ms`, accepted: false, latencyMs: timeout }),
      timeout,
    );
  });
  try {
    return await Promise.race([
      work.catch((error: unknown) => ({
        reply: `error: ${error instanceof Error ? error.message : String(error)}`,
        accepted: false,
        latencyMs: performance.now() - started,
      })),
      limit,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a Maildir holds of the battery's messages (INBOX and Junk): for each id, the checksums of its copies. */
export function maildirCopies(server: HomingServer, address = 'alice@example.org'): Map<string, string[]> {
  const copies = new Map<string, string[]>();
  const files = (['INBOX', 'Junk'] as const).flatMap((folder) =>
    server.maildir(address, folder).map((file) => ({ file, folder })),
  );
  for (const { file, folder } of files) {
    const text = server.readMail(address, file, folder);
    const id = /^X-Battery-Id: (\S+)/m.exec(text)?.[1] ?? `(no id: ${file})`;
    const list = copies.get(id) ?? [];
    list.push(checksumFrom(text) ?? '');
    copies.set(id, list);
  }
  return copies;
}

/** Compares acknowledged messages (id -> checksum) with the Maildir: lost, duplicated, corrupted, extra. */
export function reconcile(
  acknowledged: ReadonlyMap<string, string>,
  copies: ReadonlyMap<string, string[]>,
): { delivered: number; lost: string[]; duplicated: string[]; corrupted: string[] } {
  const lost: string[] = [];
  const duplicated: string[] = [];
  const corrupted: string[] = [];
  let delivered = 0;
  for (const [id, checksum] of acknowledged) {
    const found = copies.get(id) ?? [];
    if (found.length === 0) lost.push(id);
    else delivered++;
    if (found.length > 1) duplicated.push(id);
    if (found.some((c) => c !== checksum)) corrupted.push(id);
  }
  return { delivered, lost, duplicated, corrupted };
}

/** Waits until `predicate` holds, polling; throws with `describe()` after the time. */
export async function waitUntil(predicate: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${describe()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
