import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClientSession } from '../src/core/client-session';
import { loadTranscripts, runTranscript } from './client-transcript-runner';

const transcripts = loadTranscripts(join(import.meta.dirname, 'transcripts/client-session.md'));

describe('client session transcripts (server lines fed whole)', () => {
  it.each(transcripts.map((t) => [t.title, t] as const))('%s', (_, transcript) => runTranscript(transcript, false));
});

describe('client session transcripts (server lines fed byte by byte)', () => {
  it.each(transcripts.map((t) => [t.title, t] as const))('%s', (_, transcript) => runTranscript(transcript, true));
});

describe('the client transcript runner', () => {
  const start = '> start {"from":"a@example.com","to":["b@example.net"]}';
  const play = (steps: string[]) => () =>
    runTranscript({ title: 'probe', options: { hostname: 'client.example' }, steps }, false);

  it('fails on a throw the transcript does not expect, at its end or before a later step', () => {
    expect(play([start])).toThrow(/threw/);
    expect(play([start, 'S: 220 hi', 'C: EHLO client.example'])).toThrow(/INVALID_STATE/);
  });

  it('passes a throw the transcript expects', () => {
    expect(play([start, '! INVALID_STATE'])).not.toThrow();
  });
});

describe('ClientSession', () => {
  it('has a transcript file with every case', () => {
    expect(transcripts.length).toBeGreaterThanOrEqual(25);
  });

  it('says which RFC 5321 timeout applies to the reply it waits for', () => {
    const session = new ClientSession({ hostname: 'client.example' });
    expect(session.awaiting).toBe('greeting');
    session.receive(Buffer.from('220 hi\r\n'));
    expect(session.awaiting).toBe('command');
    session.receive(Buffer.from('250 hi\r\n'));
    expect(session.state).toBe('READY');
    expect(session.awaiting).toBeUndefined();
    session.startMessage({ from: 'a@example.com', to: ['b@example.net'] });
    expect(session.awaiting).toBe('mail');
    session.receive(Buffer.from('250 ok\r\n'));
    expect(session.awaiting).toBe('rcpt');
    session.receive(Buffer.from('250 ok\r\n'));
    expect(session.awaiting).toBe('dataStart');
    session.receive(Buffer.from('354 go\r\n'));
    expect(session.awaiting).toBeUndefined();
    expect(session.bodyWanted).toBe(true);
    session.endBody();
    expect(session.awaiting).toBe('dataEnd');
  });

  it('fails rather than read replies that came in the clear after the 220 to STARTTLS (RFC 3207 5)', () => {
    for (const injected of ['250 injected\r\n', '250-partial']) {
      const session = new ClientSession({ hostname: 'client.example' });
      session.receive(Buffer.from('220 hi\r\n250-hi\r\n250 STARTTLS\r\n'));
      expect(session.state).toBe('STARTTLS');
      const events = session.receive(Buffer.from(`220 go ahead\r\n${injected}`));
      expect(events.map((e) => (e.type === 'Failed' ? e.error.code : e.type))).toEqual(['StartTls', 'PROTOCOL']);
      expect(session.state).toBe('FAILED');
    }
    const later = new ClientSession({ hostname: 'client.example' });
    later.receive(Buffer.from('220 hi\r\n250-hi\r\n250 STARTTLS\r\n220 go ahead\r\n'));
    expect(later.state).toBe('TLS_HANDSHAKE');
    expect(later.receive(Buffer.from('250 late\r\n')).map((e) => e.type)).toEqual(['Failed']);
  });

  it('refuses an EHLO name that would break the command line', () => {
    expect(() => new ClientSession({ hostname: 'a b\r\nMAIL' })).toThrow(/EHLO name/);
    let code: string | undefined;
    try {
      new ClientSession({ hostname: '' });
    } catch (error) {
      code = (error as { code?: string }).code;
    }
    expect(code).toBe('INVALID_OPTIONS');
  });

  it('keeps the enhanced status code of a refused recipient', () => {
    const session = new ClientSession({ hostname: 'client.example' });
    session.receive(Buffer.from('220 hi\r\n250-hi\r\n250 PIPELINING\r\n'));
    session.startMessage({ from: 'a@example.com', to: ['b@example.net'] });
    const events = session.receive(Buffer.from('250 ok\r\n550 5.1.1 <b@example.net>: unknown\r\n554 5.5.1 no\r\n'));
    const sent = events.find((e) => e.type === 'Send');
    expect(sent?.type === 'Send' && sent.text).toBe('RSET');
    const done = session.receive(Buffer.from('250 2.0.0 ok\r\n'))[0];
    expect(done?.type).toBe('MessageDone');
    if (done?.type !== 'MessageDone') return;
    expect(done.result.rejected[0]?.reply).toEqual({
      code: 550,
      enhanced: '5.1.1',
      lines: ['<b@example.net>: unknown'],
    });
  });
});
