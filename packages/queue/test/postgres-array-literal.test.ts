// The array texts the claim's grant and the settle send as parameters (`arrayLiteral`): what
// PostgreSQL reads back is what was written, whatever the strings hold (a domain is any text).
import { expect, it } from 'vitest';
import { arrayLiteral } from '../src/postgres/queue-sql';
import { describePostgres, sql } from './postgres-setup';

describePostgres('PostgreSQL array texts', () => {
  it('reads back strings, numbers, booleans and nulls as written', async () => {
    const strings = [
      'a1b2c3d4e5f60708',
      'a1b2c3d4e5f60708.0123456789ab',
      'example.org',
      'xn--bcher-kva.example',
      '',
      ' padded ',
      'NULL',
      'null',
      'with,comma',
      '{braces}',
      'quote"d',
      'back\\slash',
      "it's",
      'ünïcødé',
      'tab\there',
    ];
    const read = async (values: readonly (string | number | boolean | null)[], type: string) =>
      (await sql(`SELECT $1::${type}[] AS v`, [arrayLiteral(values)])).rows[0].v;
    expect(await read(strings, 'text')).toEqual(strings);
    // Each alone too: the plain case (no quoting) is taken only when every element allows it.
    for (const value of strings) expect(await read([value, 'plain'], 'text')).toEqual([value, 'plain']);
    expect(await read(['plain', null, 'x'], 'text')).toEqual(['plain', null, 'x']);
    expect(await read([], 'text')).toEqual([]);
    const times = [0, 1_764_650_000_000, Number.MAX_SAFE_INTEGER];
    expect((await read(times, 'bigint')).map(Number)).toEqual(times);
    expect(await read([1, 2, 3], 'integer')).toEqual([1, 2, 3]);
    expect(await read([true, false, true], 'boolean')).toEqual([true, false, true]);
  });
});
