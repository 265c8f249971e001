import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { headerValue, MessageBuffer } from '../../src/server/inbound/message-buffer';
import { receivedHeader } from '../../src/server/inbound/trace-headers';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function collect(stream: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

describe('MessageBuffer', () => {
  it('keeps a small body in memory and gives it twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'homing-buffer-'));
    dirs.push(dir);
    const buffer = new MessageBuffer(dir);
    await buffer.write(Buffer.from('Subject: hi\r\n\r\n'));
    await buffer.write(Buffer.from('body\r\n'));
    await buffer.end();
    expect(buffer.buffer()?.toString()).toBe('Subject: hi\r\n\r\nbody\r\n');
    expect((await collect(buffer.stream())).toString()).toBe('Subject: hi\r\n\r\nbody\r\n');
    expect((await collect(buffer.stream())).toString()).toBe('Subject: hi\r\n\r\nbody\r\n');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('spills a large body to a temporary file, streams it whole twice, and removes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'homing-buffer-'));
    dirs.push(dir);
    const buffer = new MessageBuffer(dir);
    const chunk = Buffer.alloc(256 * 1024, 'x');
    for (let i = 0; i < 12; i++) await buffer.write(chunk);
    await buffer.end();
    expect(buffer.buffer()).toBeUndefined();
    expect(buffer.size).toBe(12 * chunk.length);
    expect((await collect(buffer.stream())).length).toBe(12 * chunk.length);
    expect((await collect(buffer.stream())).equals(Buffer.alloc(12 * chunk.length, 'x'))).toBe(true);
    const [file] = readdirSync(dir);
    expect(file).toBeDefined();
    await buffer.dispose();
    expect(existsSync(join(dir, file!))).toBe(false);
  });

  it('reads unfolded header values from the head only', () => {
    const head = 'Message-ID:\r\n <a@b>\r\nFrom: x@y\r\n\r\nMessage-ID: <body@not-header>\r\n';
    expect(headerValue(head, 'Message-ID')).toBe('<a@b>');
    expect(headerValue(head, 'Date')).toBeUndefined();
  });
});

describe('receivedHeader', () => {
  it('says the hop as RFC 5321 4.4 and RFC 3848 want, and no client byte breaks it', () => {
    const header = receivedHeader({
      hostname: 'mx.example.org',
      helo: 'evil\r\nBcc: x@y',
      host: 'mail.example.net',
      ip: '2001:db8::1',
      secure: true,
      authenticated: false,
      verb: 'EHLO',
      mode: 'DATA',
      id: '0123456789abcdef',
      recipient: 'alice@example.org',
      date: new Date(Date.UTC(2026, 11, 1, 22, 0, 0)),
    });
    expect(header).toBe(
      'Received: from evil Bcc: x@y (mail.example.net [IPv6:2001:db8::1])\r\n\tby mx.example.org (Homing) with ESMTPS id 0123456789abcdef\r\n\tfor <alice@example.org>;\r\n\tTue, 1 Dec 2026 22:00:00 +0000',
    );
  });
});
