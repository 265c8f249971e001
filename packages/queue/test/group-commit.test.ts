// The group commit loop behind the batch files: with room for two flushes, items that arrive while
// a flush runs start the next one at once, and every item still settles in submission order.
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../src/internal/group-commit';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A flush whose end the test decides: each call is recorded with a function that ends it. */
function controlledFlush() {
  const calls: { items: number[]; end: (error?: Error) => void }[] = [];
  const flush = (items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      calls.push({ items, end: (error) => (error ? reject(error) : resolve(items.map((i) => `done ${i}`))) });
    });
  return { calls, flush };
}

describe('the group commit', () => {
  it('starts a second flush for items that arrive while the first runs, when two may run at once', async () => {
    const { calls, flush } = controlledFlush();
    const commit = new GroupCommit(flush, undefined, 2);
    const first = commit.submit(1);
    await tick();
    const second = commit.submit(2);
    const third = commit.submit(3);
    await tick();
    expect(calls.map((c) => c.items)).toEqual([[1], [2, 3]]);
    // A third flush waits for a free slot.
    const fourth = commit.submit(4);
    await tick();
    expect(calls).toHaveLength(2);
    calls[1]!.end();
    await tick();
    await tick();
    expect(calls.map((c) => c.items)).toEqual([[1], [2, 3], [4]]);
    calls[0]!.end();
    calls[2]!.end();
    expect(await Promise.all([first, second, third, fourth])).toEqual(['done 1', 'done 2', 'done 3', 'done 4']);
  });

  it('settles items in submission order even when a later flush ends first', async () => {
    const { calls, flush } = controlledFlush();
    const commit = new GroupCommit(flush, undefined, 2);
    const order: number[] = [];
    const first = commit.submit(1).then(() => order.push(1));
    await tick();
    const second = commit.submit(2).then(() => order.push(2));
    await tick();
    calls[1]!.end();
    for (let i = 0; i < 5; i += 1) await tick();
    expect(order).toEqual([]); // the second waits for the first
    calls[0]!.end();
    await Promise.all([first, second]);
    expect(order).toEqual([1, 2]);
  });

  it('rejects exactly the items of a failed flush, the others resolve', async () => {
    const { calls, flush } = controlledFlush();
    const commit = new GroupCommit(flush, undefined, 2);
    const first = commit.submit(1);
    await tick();
    const second = commit.submit(2);
    await tick();
    calls[0]!.end(new Error('EIO'));
    calls[1]!.end();
    await expect(first).rejects.toThrow('EIO');
    expect(await second).toBe('done 2');
  });

  it('is idle only once every item submitted so far has settled', async () => {
    const { calls, flush } = controlledFlush();
    const commit = new GroupCommit(flush, undefined, 2);
    const items = [commit.submit(1), commit.submit(2)];
    let idle = false;
    const waiting = commit.idle().then(() => {
      idle = true;
    });
    await tick();
    await tick();
    expect(idle).toBe(false);
    calls[0]!.end();
    await Promise.all(items);
    await waiting;
    expect(idle).toBe(true);
  });

  it('runs one flush at a time with the default concurrency (the journal)', async () => {
    const { calls, flush } = controlledFlush();
    const commit = new GroupCommit(flush);
    const first = commit.submit(1);
    await tick();
    const second = commit.submit(2);
    await tick();
    expect(calls.map((c) => c.items)).toEqual([[1]]);
    calls[0]!.end();
    await first;
    await tick();
    expect(calls.map((c) => c.items)).toEqual([[1], [2]]);
    calls[1]!.end();
    expect(await second).toBe('done 2');
  });
});
