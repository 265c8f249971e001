import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createResolver } from '@homing/dns';
import { openFileQueue } from '@homing/queue';
import { describe, expect, it } from 'vitest';
import { type BounceOptions, createBounce, createDelayWarning, createDeliveryAgent, processClaim } from '../src/index';
import { useLoopbackMx } from './loopback-mx';
import { startReceiver } from './peers';
import { parseWithPython } from './python-email';

// RFC 3461 4.3: RET=FULL returns the whole message in a failure report (message/rfc822), RET=HDRS
// and no RET its header section (text/rfc822-headers); beyond `maxReturnBytes` the headers and a note.

const RETURNED_SCRIPT = `
import email, json, sys
m = email.message_from_bytes(sys.stdin.buffer.read())
parts = m.get_payload()
third = parts[2]
out = {"parts": [p.get_content_type() for p in parts], "defects": [str(d) for d in m.defects],
       "human": parts[0].get_payload(decode=True).decode("utf-8")}
if third.get_content_type() == "message/rfc822":
    inner = third.get_payload()[0]
    out["subject"] = inner["Subject"]
    out["body"] = inner.get_payload()
    out["innerDefects"] = [str(d) for d in inner.defects]
else:
    out["headers"] = third.get_payload()
print(json.dumps(out))
`;

interface Returned {
  parts: string[];
  defects: string[];
  human: string;
  subject?: string;
  body?: string;
  innerDefects?: string[];
  headers?: string;
}

const original = 'From: alice@example.org\nTo: bob@example.net\nSubject: Plans\n\nSee you at eight.\nBring the map.\n';

function bounce(extra: Partial<BounceOptions>): Returned {
  const options: BounceOptions = {
    reportingMta: 'mta.example.org',
    sender: 'alice@example.org',
    recipients: [{ address: 'bob@example.net', action: 'failed', status: '5.1.1', diagnostic: 'no such user' }],
    originalMessage: original,
    ...extra,
  };
  const made = createBounce(options);
  return parseWithPython(made!.message, RETURNED_SCRIPT) as Returned;
}

describe('createBounce and RET', () => {
  it('returns the whole message as message/rfc822 for RET=FULL', () => {
    const parsed = bounce({ ret: 'FULL' });
    expect(parsed.parts).toEqual(['text/plain', 'message/delivery-status', 'message/rfc822']);
    expect(parsed.defects).toEqual([]);
    expect(parsed.innerDefects).toEqual([]);
    expect(parsed.subject).toBe('Plans');
    expect(parsed.body).toBe('See you at eight.\r\nBring the map.\r\n');
  });

  it('returns the headers only for RET=HDRS and without RET', () => {
    for (const ret of ['HDRS' as const, undefined]) {
      const parsed = bounce(ret === undefined ? {} : { ret });
      expect(parsed.parts[2]).toBe('text/rfc822-headers');
      expect(parsed.headers).toContain('Subject: Plans');
      expect(parsed.headers).not.toContain('See you');
    }
  });

  it('returns the headers with a note for RET=FULL beyond maxReturnBytes', () => {
    const parsed = bounce({ ret: 'FULL', maxReturnBytes: 60 });
    expect(parsed.parts[2]).toBe('text/rfc822-headers');
    expect(parsed.headers).not.toContain('See you');
    expect(parsed.human).toContain('larger than 60 octets: only its headers are returned');
    // Exactly at the bound (CRLF line ends counted) it still goes whole.
    const size = Buffer.byteLength(original.replace(/\n/g, '\r\n'));
    expect(bounce({ ret: 'FULL', maxReturnBytes: size }).parts[2]).toBe('message/rfc822');
  });

  it('never returns the message in a delay warning (RET concerns failures)', () => {
    const warning = createDelayWarning({
      reportingMta: 'mta.example.org',
      sender: 'alice@example.org',
      recipients: [{ address: 'bob@example.net', action: 'delayed', status: '4.4.1' }],
      originalMessage: original,
      ret: 'FULL',
    });
    const parsed = parseWithPython(warning!.message, RETURNED_SCRIPT) as Returned;
    expect(parsed.parts[2]).toBe('text/rfc822-headers');
  });
});

const mx = useLoopbackMx();

async function workerBounce(ret: 'FULL' | 'HDRS', maxReturnBytes?: number, message = original): Promise<Returned> {
  const spool = mkdtempSync(join(tmpdir(), 'homing-delivery-ret-'));
  const receiver = await startReceiver({ rcpt: () => ({ code: 550, message: '5.1.1 No such user' }) });
  mx.closers.push(() => receiver.close());
  const queue = await openFileQueue({ spool, delayWarningMs: false });
  const agent = createDeliveryAgent({
    resolver: createResolver({ servers: [mx.dns.address] }),
    hostname: 'mta.example.org',
    port: receiver.port,
    addressPreference: 'ipv4',
  });
  mx.agents.push(agent);
  try {
    await queue.enqueue({ sender: 'alice@example.org', recipients: ['bob@example.net'] }, Buffer.from(message));
    const [claim] = await queue.claim({ domain: 'example.net' });
    await processClaim(
      {
        queue,
        agent,
        hostname: 'mta.example.org',
        reportOptions: () => ({ ret }),
        ...(maxReturnBytes === undefined ? {} : { maxReturnBytes }),
      },
      claim!,
    );
    const report = (await queue.list()).find((message) => message.sender === '');
    const chunks: Buffer[] = [];
    for await (const chunk of await queue.openBody(report!.id)) chunks.push(Buffer.from(chunk));
    return parseWithPython(Buffer.concat(chunks), RETURNED_SCRIPT) as Returned;
  } finally {
    await queue.close();
    rmSync(spool, { recursive: true, force: true });
  }
}

describe('processClaim and RET', { timeout: 30_000 }, () => {
  it('bounces with the whole queued message for RET=FULL, headers for RET=HDRS', async () => {
    const full = await workerBounce('FULL');
    expect(full.parts[2]).toBe('message/rfc822');
    expect(full.body).toBe('See you at eight.\r\nBring the map.\r\n');
    const headers = await workerBounce('HDRS');
    expect(headers.parts[2]).toBe('text/rfc822-headers');
  });

  it('returns a message of many stream chunks whole (300 KB, under the 1 MiB default)', async () => {
    const line = `${'x'.repeat(98)}\r\n`;
    const body = line.repeat(3000);
    const parsed = await workerBounce('FULL', undefined, `Subject: Big\r\n\r\n${body}`);
    expect(parsed.parts[2]).toBe('message/rfc822');
    expect(parsed.body?.length).toBe(body.length);
  });

  it('falls back to the headers beyond the worker maxReturnBytes', async () => {
    const parsed = await workerBounce('FULL', 40);
    expect(parsed.parts[2]).toBe('text/rfc822-headers');
    expect(parsed.headers).toContain('Subject: Plans');
    expect(parsed.human).toContain('larger than 40 octets');
  });
});
