import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLIENT_TRANSITIONS, SERVER_TRANSITIONS } from '../src/index';
import { loadTranscripts, runTranscript } from './client-transcript-runner';
import { playTranscript, readTranscripts } from './helpers/transcript';

// Issue 11 item 5: both session state machines are driven by their table. Every transcript in
// test/transcripts is replayed with a transition observer; each recorded (from, trigger, to) must
// be a move of the table, and the moves must chain (each starts where the last ended), so that no
// change of state happens anywhere but through the table.

const folder = join(import.meta.dirname, 'transcripts');
type Move = [from: string, trigger: string, to: string];

function recorder(initial: string) {
  const moves: Move[] = [];
  let at = initial;
  const broken: string[] = [];
  return {
    moves,
    broken,
    record: (from: string, trigger: string, to: string) => {
      if (from !== at) broken.push(`${trigger}: from ${from}, but the last move ended in ${at}`);
      moves.push([from, trigger, to]);
      at = to;
    },
  };
}

const inTable = (table: Record<string, Record<string, unknown>>, [from, trigger, to]: Move) => {
  const target = table[from]?.[trigger];
  return Array.isArray(target) ? target.includes(to) : target === to;
};

const used = { server: new Set<string>(), client: new Set<string>() };

describe('server transcripts replayed against SERVER_TRANSITIONS', () => {
  const files = readdirSync(folder).filter((name) => name.endsWith('.md') && !name.startsWith('client'));
  const cases = files.flatMap((file) =>
    readTranscripts(join(folder, file)).map((test) => [`${file}: ${test.name}`, test] as const),
  );
  it('has server transcripts to replay', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });
  it.each(cases)('%s', (_, test) => {
    const { moves, broken, record } = recorder('CONNECTED');
    playTranscript({ ...test, options: { ...test.options, onTransition: record } });
    expect(moves.length).toBeGreaterThan(0);
    expect(moves.filter((move) => !inTable(SERVER_TRANSITIONS, move))).toEqual([]);
    expect(broken).toEqual([]);
    for (const [from, trigger] of moves) used.server.add(`${from} ${trigger}`);
  });
});

describe('client transcripts replayed against CLIENT_TRANSITIONS', () => {
  const transcripts = loadTranscripts(join(folder, 'client-session.md'));
  it.each(transcripts.map((t) => [t.title, t] as const))('%s', (_, transcript) => {
    const { moves, broken, record } = recorder('GREETING');
    runTranscript({ ...transcript, options: { ...transcript.options, onTransition: record } }, false);
    expect(moves.filter((move) => !inTable(CLIENT_TRANSITIONS, move))).toEqual([]);
    expect(broken).toEqual([]);
    for (const [from, trigger] of moves) used.client.add(`${from} ${trigger}`);
  });
});

describe('the transcripts', () => {
  // Not a bound the tables must meet: a record of how much of each table the transcripts walk.
  it('walk most of both tables', () => {
    const size = (table: Record<string, Record<string, unknown>>) =>
      Object.values(table).reduce((sum, row) => sum + Object.keys(row).length, 0);
    const server = size(SERVER_TRANSITIONS);
    const client = size(CLIENT_TRANSITIONS);
    console.log(`transitions walked: server ${used.server.size} of ${server}, client ${used.client.size} of ${client}`);
    expect(used.server.size).toBeGreaterThan(server / 2);
    expect(used.client.size).toBeGreaterThan(client / 2);
  });
});
