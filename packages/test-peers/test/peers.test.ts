import { describe, expect, it, vi } from 'vitest';
import { missingPeerFails, type Peer, skipWithoutPeersIn } from '../src/peers';

const absent: Peer = { name: 'frobd', present: () => false, install: 'with `apt-get install frobd`' };
const there: Peer = { name: 'echo', present: () => true, install: 'nowhere' };

describe('a missing test peer', () => {
  it('fails in CI and as root on Debian, and nowhere else', () => {
    expect(missingPeerFails({ env: { CI: 'true' }, root: false, debian: false })).toBe(true);
    expect(missingPeerFails({ env: {}, root: true, debian: true })).toBe(true);
    expect(missingPeerFails({ env: {}, root: false, debian: true })).toBe(false);
    expect(missingPeerFails({ env: {}, root: true, debian: false })).toBe(false);
  });

  it('skips the suite elsewhere, saying which peer and how to install it', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(skipWithoutPeersIn({ env: {}, root: false, debian: false }, there, absent)).toBe(true);
      expect(write).toHaveBeenCalledWith('skipped: this suite needs frobd (install it with `apt-get install frobd`)\n');
    } finally {
      write.mockRestore();
    }
  });

  it('is an error naming it where it must fail', () => {
    expect(() => skipWithoutPeersIn({ env: { CI: 'true' } }, absent)).toThrow(
      'a test peer is missing: frobd (install it with `apt-get install frobd`)',
    );
  });

  it('does not skip when every peer is there', () => {
    expect(skipWithoutPeersIn({ env: {}, root: false, debian: false }, there)).toBe(false);
  });
});
