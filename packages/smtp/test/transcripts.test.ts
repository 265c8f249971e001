import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { playTranscript, readTranscripts } from './helpers/transcript';

const folder = join(import.meta.dirname, 'transcripts');

for (const file of readdirSync(folder).filter((name) => name.endsWith('.md') && !name.startsWith('client'))) {
  describe(`transcript ${file}`, () => {
    for (const test of readTranscripts(join(folder, file))) {
      it(`${test.name} (fed whole)`, () => {
        expect(playTranscript(test)).toEqual(test.expected);
      });
      it(`${test.name} (fed byte by byte)`, () => {
        expect(playTranscript(test, (length) => Array.from({ length }, (_, i) => i + 1))).toEqual(test.expected);
      });
    }
  });
}
