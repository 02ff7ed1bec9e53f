// Fuzz, hostile input: configuration updates, ≥ 10,000 seeded cases. The recipe's default
// configuration (plus devices and an enforcing behavior) is mutated — wrong types, NaN/Infinity, huge
// arrays, deep nesting, `__proto__`/`constructor` keys, hostile strings and regexes — and handed to
// validateComponentConfig, the one check the ValidateConfigurationUpdates hook, the agent and the last-good
// store use. It never throws, never pollutes prototypes, never modifies its input, every rejection is
// `path: message`, an accepted configuration validates again to the same result, and the heap stays flat.

import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateComponentConfig } from '../../src/agent/configChecks.ts';
import { loadRecipeFile } from '../../src/ipc/emulator/recipe.ts';
import { hostileString, hostileValue, mutateDocument } from '../support/mutate.ts';
import { assertPathMessage, forEachCase, runSeed, settledHeap } from '../support/prng.ts';

const CASES = Number(process.env.FUZZ_CASES ?? 10_000);
const recipe = loadRecipeFile(fileURLToPath(new URL('../../recipe.yaml', import.meta.url)));
const BASE = {
  ...structuredClone(recipe.defaultConfiguration),
  downstream: {
    devices: [{ thingName: 'Dev1', addresses: ['192.0.2.10', '2001:db8::1'], interface: 'eth1' }],
    thingNamePattern: 'sensor-[0-9]+',
    reportTopic: '$aws/things/+/defender/metrics/+',
    messageTopics: ['devices/{thingName}/telemetry'],
  },
  enforcement: { mode: 'enforce', protectedProcesses: ['sshd'], neverBlockCidrs: ['10.0.0.0/8'] },
} as Record<string, unknown>;

/** Keys whose string values are interpreted (regexes, topics, paths, CIDRs): where hostile strings go. */
const INTERPRETED = [
  'thingNamePattern',
  'reportTopic',
  'stateDir',
  'diskPath',
  'downstreamNftTable',
  'topic',
  'localTopic',
  'cloudTopic',
  'nftTable',
  'name',
  'metric',
  'comparisonOperator',
  'interface',
];

function setDeep(doc: Record<string, unknown>, r: ReturnType<typeof import('../support/prng.ts').prng>): void {
  // Walk to a random object and overwrite an interpreted key with a hostile string or regex.
  let node: unknown = doc;
  for (let d = 0; d < 4 && typeof node === 'object' && node !== null; d++) {
    const keys = Object.keys(node);
    if (keys.length === 0) break;
    const next = (node as Record<string, unknown>)[r.pick(keys)];
    if (typeof next !== 'object' || next === null) break;
    node = next;
  }
  if (typeof node === 'object' && node !== null && !Array.isArray(node)) {
    (node as Record<string, unknown>)[r.pick(INTERPRETED)] = r.bool()
      ? hostileString(r)
      : r.pick(['(a+)+$', '(', '[', '.*', '\\', '(?<x>a)\\k<y>', '\u0000', '$aws/things/#', 'a/+/b', '../../etc', '/dev/sda']);
  }
}

describe('fuzz: configuration updates', () => {
  it(`${CASES} mutated configurations: never throws, path: message rejections, no prototype pollution`, async () => {
    const base = validateComponentConfig(BASE);
    expect(base.ok, JSON.stringify(base)).toBe(true);
    const seed = runSeed();
    const heapBefore = await settledHeap();
    let accepted = 0;
    await forEachCase(
      'config',
      CASES,
      (r) => {
        let raw: unknown;
        switch (r.int(6)) {
          case 0:
            raw = hostileValue(r);
            break;
          case 1: {
            const d = structuredClone(BASE);
            setDeep(d, r);
            raw = d;
            break;
          }
          default:
            raw = mutateDocument(r, BASE);
        }
        const snapshot = (): string | undefined => {
          try {
            return JSON.stringify(raw);
          } catch {
            return undefined;
          }
        }; // too deep for the test's own stringify
        const before = r.bool(0.1) ? snapshot() : undefined;
        const result = validateComponentConfig(raw);
        if (before !== undefined && snapshot() !== before) throw new Error('validation modified its input');
        if (({} as Record<string, unknown>).polluted !== undefined || Object.hasOwn(Object.prototype, 'x'))
          throw new Error('Object.prototype polluted');
        if (!result.ok) {
          assertPathMessage(result.errors, 'config');
          return;
        }
        accepted++;
        // What is accepted is a usable configuration: it validates again to the same thing.
        const again = validateComponentConfig(JSON.parse(JSON.stringify(result.config)));
        if (!again.ok) throw new Error(`accepted configuration fails a second validation: ${again.errors.join('; ')}`);
        if (typeof result.config.sampling.intervalMs !== 'number' || !Number.isFinite(result.config.sampling.intervalMs))
          throw new Error('accepted a non-finite sampling interval');
        if (result.config.downstream.thingNamePattern !== undefined) new RegExp(result.config.downstream.thingNamePattern);
      },
      seed,
    );
    const heapAfter = await settledHeap();
    expect(accepted).toBeGreaterThan(0);
    expect(heapAfter - heapBefore, `heap grew from ${heapBefore} to ${heapAfter} (seed ${seed})`).toBeLessThan(16 * 2 ** 20);
  }, 120_000);
});
