import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { keysAt } from '../../src/config/config-schema';
import { minimalExample } from '../../src/config/load-config';

const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('\n## Configuration\n'), readme.indexOf('\n## Logs\n'));

describe('the README', () => {
  it('gives the minimal config in its Configuration section, as the code has it', () => {
    expect(section.length).toBeGreaterThan(1000);
    expect(section).toContain(`\`\`\`yaml\n${minimalExample}\n\`\`\``);
  });

  it('documents every key of the schema', () => {
    const rows = section.split('\n').filter((line) => line.startsWith('| `'));
    const row = (key: string) => rows.find((line) => line.startsWith(`| \`${key}`) || line.includes(` or \`${key}`));
    for (const key of keysAt([]) ?? []) {
      if (['listen', 'limits', 'filters', 'tls'].includes(key)) continue;
      expect(row(key), key).toBeDefined();
    }
    expect(row('tls: { cert, key }')).toBeDefined();
    for (const sectionKey of ['listen', 'limits', 'filters']) {
      for (const key of keysAt([sectionKey]) ?? []) {
        const line = row(`${sectionKey}.${key}`);
        expect(line, `${sectionKey}.${key}`).toBeDefined();
        for (const inner of keysAt([sectionKey, key]) ?? []) {
          if (inner !== 'enabled') expect(line, `${sectionKey}.${key}.${inner}`).toContain(`${inner}:`);
        }
      }
    }
  });
});
