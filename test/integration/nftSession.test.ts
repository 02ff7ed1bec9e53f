// The long-lived `nft -j -i` reader (src/collector/nftSession.ts) against real nftables in a network
// namespace this file creates: one JSON line per command, every answer a fresh dump (a change made by
// another nft process meanwhile is seen), an error is one command's failure and the session goes on,
// and a closed session refuses further commands and leaves no process behind.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NftSession } from '../../src/collector/nftSession.ts';
import { CommandError } from '../../src/system/commandRunner.ts';
import { createNetns, deleteNetns, inNs } from '../support/netns.ts';
import { requires, root } from '../support/requirements.ts';
import { uniqueId } from '../support/uniqueId.ts';

const ns = `${uniqueId()}ns`;
const table = `${ns}_t`;

beforeAll(() => {
  if (!root.met) return;
  createNetns(ns);
  inNs(ns, 'nft', ['add', 'table', 'inet', table]);
  inNs(ns, 'nft', ['add', 'set', 'inet', table, 's', '{ type ipv4_addr; }']);
});
afterAll(() => {
  if (root.met) deleteNetns(ns);
});

const elements = (json: string) =>
  (JSON.parse(json) as { nftables: Array<{ set?: { elem?: string[] } }> }).nftables.flatMap((o) => o.set?.elem ?? []);

describe('NftSession', requires(root), () => {
  it('answers each command with a fresh JSON dump, and one failing command does not end the session', async () => {
    const session = new NftSession({ netns: ns });
    try {
      expect(elements(await session.request(`list set inet ${table} s`))).toEqual([]);
      inNs(ns, 'nft', ['add', 'element', 'inet', table, 's', '{ 10.9.9.9 }']);
      expect(elements(await session.request(`list set inet ${table} s`))).toEqual(['10.9.9.9']);
      const err = await session.request(`list set inet ${table} nosuchset`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CommandError);
      expect((err as CommandError).message).toMatch(/^nft: .*No such file or directory/);
      // concurrent requests are answered in order
      const [a, b] = await Promise.all([session.request(`list set inet ${table} s`), session.request(`list table inet ${table}`)]);
      expect(elements(a)).toEqual(['10.9.9.9']);
      expect(JSON.parse(b).nftables.some((o: { table?: unknown }) => o.table !== undefined)).toBe(true);
      expect(session.unsupported).toBe(false);
      await expect(session.request('list tables\nflush ruleset')).rejects.toThrow(/one line/);
    } finally {
      await session.close();
    }
    await expect(session.request(`list set inet ${table} s`)).rejects.toThrow(/closed/);
    // no nft -i left running in our namespace
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).trim();
    expect(pids).toBe('');
  });

  it('reports a namespace that does not exist as a failed command', async () => {
    const session = new NftSession({ netns: `${ns}gone` });
    try {
      const err = await session.request('list tables').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CommandError);
      expect((err as CommandError).message).toMatch(/^nft: /);
    } finally {
      await session.close();
    }
  });
});
