import { describe, expect, it } from 'vitest';
import { activeKey, escalatedTtlMs, OffenceBook, offenceKey, RateLimiter } from '../../src/enforce/enforcementPolicy.ts';

describe('rate limiter', () => {
  it('allows max actions in any 60 s window and frees slots as they age out', () => {
    const r = new RateLimiter(2);
    expect(r.tryTake(0)).toBe(true);
    expect(r.tryTake(10_000)).toBe(true);
    expect(r.tryTake(59_999)).toBe(false);
    expect(r.tryTake(60_001)).toBe(true); // the first one left the window
    expect(r.tryTake(60_002)).toBe(false);
  });
});

describe('escalation', () => {
  it('multiplies the ttl by factor^level and caps it', () => {
    expect(escalatedTtlMs(600, 2, 0, 86_400)).toBe(600_000);
    expect(escalatedTtlMs(600, 2, 3, 86_400)).toBe(4_800_000);
    expect(escalatedTtlMs(600, 2, 20, 86_400)).toBe(86_400_000);
    expect(escalatedTtlMs(1, 1.5, 1, 100)).toBe(1500);
  });

  it('counts offences per offender, forgets after a clean period, survives a JSON round trip', () => {
    const book = new OffenceBook(1000);
    expect(book.level('process:/usr/bin/rogue', 0)).toBe(0);
    book.record('process:/usr/bin/rogue', 0);
    book.record('process:/usr/bin/rogue', 500);
    expect(book.level('process:/usr/bin/rogue', 900)).toBe(2);
    expect(book.level('process:/usr/bin/rogue', 1600)).toBe(0);
    const copy = new OffenceBook(1000, 10, JSON.parse(JSON.stringify(book.toJSON())));
    expect(copy.level('process:/usr/bin/rogue', 900)).toBe(2);
  });

  it('stays bounded, dropping the least recently seen offender', () => {
    const book = new OffenceBook(10_000, 2);
    book.record('a', 1);
    book.record('b', 2);
    book.record('a', 3);
    book.record('c', 4);
    expect(book.level('b', 5)).toBe(0);
    expect(book.level('a', 5)).toBe(2);
    expect(book.level('c', 5)).toBe(1);
  });

  it('treats a restarted program as the same offender and keys targets by identity', () => {
    const t1 = { kind: 'process' as const, pid: 10, startTime: 1, comm: 'rogue' };
    const t2 = { kind: 'process' as const, pid: 11, startTime: 2, comm: 'rogue' };
    expect(offenceKey({ kind: 'process', pid: 10, comm: 'rogue', exe: '/opt/rogue' }, t1)).toBe(
      offenceKey({ kind: 'process', pid: 11, comm: 'rogue', exe: '/opt/rogue' }, t2),
    );
    expect(activeKey('process-suspend', t1)).not.toBe(activeKey('process-suspend', t2));
    // Two scripts of one interpreter are different offenders (name or service differs); the same one restarted is not.
    const py = (pid: number, comm: string, cgroup: string) =>
      offenceKey({ kind: 'process', pid, comm, exe: '/usr/bin/python3', cgroup }, t1);
    expect(py(20, 'python3', '/system.slice/a.service')).not.toBe(py(21, 'python3', '/system.slice/b.service'));
    expect(py(20, 'collector', '/system.slice/a.service')).not.toBe(py(21, 'uploader', '/system.slice/a.service'));
    expect(py(20, 'python3', '/system.slice/a.service')).toBe(py(22, 'python3', '/system.slice/a.service'));
    expect(activeKey('address-block', { kind: 'addresses', addresses: ['b', 'a'] })).toBe(
      activeKey('address-block', { kind: 'addresses', addresses: ['a', 'b'] }),
    );
  });
});
