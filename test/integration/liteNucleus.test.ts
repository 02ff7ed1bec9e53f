// The agent (real SDK, real socket) against the emulator behaving like nucleus lite (`nucleus: 'lite'`):
// configuration numbers as strings (and a YAML recipe's scalars as text), no validation operations
// (ServiceError, empty message), IoT Core operations refused while the core is offline. The agent must take its configuration, notice the
// missing validation step once, bound its retries, keep what it must send on disk, and catch up when the
// core comes online.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.ts';
import type { HealthRecord } from '../../src/agent/health.ts';
import { GreengrassEmulator } from '../../src/ipc/emulator/emulator.ts';
import { until } from '../support/until.ts';

const RECIPE = fileURLToPath(new URL('../../recipe.yaml', import.meta.url));
const TOKEN = 'LITETESTTOKEN001';
const GW = 'LiteGateway';

interface LogLine {
  level: number;
  module?: string;
  msg: string;
  [k: string]: unknown;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(overrides: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'dedge-lite-'));
  const record = join(dir, 'cloud.jsonl');
  const nucleus = new GreengrassEmulator({
    nucleus: 'lite',
    socketPath: join(dir, 'ipc.sock'),
    recipe: RECIPE,
    token: TOKEN,
    recordFile: record,
    offline: true,
    overrides: { stateDir: join(dir, 'state'), sampling: { intervalMs: 200 }, heartbeat: { intervalSeconds: 1 }, ...overrides },
  });
  await nucleus.start();
  const lines: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  const agent = new Agent({
    socketPath: join(dir, 'ipc.sock'),
    authToken: TOKEN,
    thingName: GW,
    bootstrapStateDir: join(dir, 'boot'),
    logger,
    reportIntervalOverrideSeconds: 1,
    connectWaitMs: 2000,
  });
  const health: HealthRecord[] = [];
  agent.on('health', (h) => health.push(h));
  cleanups.push(async () => {
    await agent.stop();
    await nucleus.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const cloud = (): Array<{ topic: string }> =>
    existsSync(record)
      ? readFileSync(record, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as { topic: string })
      : [];
  return { nucleus, agent, lines, health, cloud };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('on a nucleus that answers like nucleus lite', () => {
  it('takes its configuration (numbers and booleans as strings), notices the missing validation step once, bounds its retries, and catches up online', async () => {
    const { nucleus, agent, lines, health, cloud } = await rig();
    await agent.start();

    // The configuration from the nucleus is in force, numbers included ("200", "10000000", "300", "true"):
    // behaviors[1] is the recipe's processBytesOut.
    const config = agent.currentConfig();
    expect(agent.snapshot().config.source).toBe('nucleus');
    expect(config.sampling.intervalMs).toBe(200);
    expect(config.heartbeat.intervalSeconds).toBe(1);
    expect((config.behaviors as Array<{ criteria: { value: { count: unknown }; durationSeconds: unknown } }>)[1]!.criteria).toMatchObject({
      value: { count: 10_000_000 },
      durationSeconds: 300,
    });

    // The validation step is missing: asked once, said once, judged on apply from then on.
    await until(() => agent.snapshot().config.validation === 'on-apply', 5000, 'validation mode on-apply');
    const noticed = lines.filter((l) => l.module === 'config' && /no configuration validation step/.test(l.msg));
    expect(noticed).toHaveLength(1);

    // Offline: the three SubscribeToIoTCore (Defender acceptances, rejections, operators' commands) give up
    // after 5 attempts each; reports wait in the outbox.
    await until(() => agent.snapshot().ipc.subscriptionsGivenUp === 3, 15_000, 'cloud subscriptions given up');
    const subscribesWhenGivenUp = nucleus.requestCount('SubscribeToIoTCore');
    expect(subscribesWhenGivenUp).toBe(15);
    await until(() => agent.snapshot().outbox.failures >= 2 && agent.snapshot().outbox.depth >= 1, 10_000, 'reports held offline');
    await settle(3000); // a retry storm would show here
    expect(nucleus.requestCount('SubscribeToValidateConfigurationUpdates')).toBe(1);
    expect(nucleus.requestCount('SendConfigurationValidityReport')).toBe(0);
    expect(nucleus.requestCount('SubscribeToIoTCore')).toBe(subscribesWhenGivenUp);
    expect(cloud()).toEqual([]);

    // Online: the held reports go out, and the first accepted publish re-arms the cloud subscriptions.
    nucleus.setOnline(true);
    await until(() => cloud().some((m) => m.topic === `$aws/things/${GW}/defender/metrics/json`), 40_000, 'a report in the cloud');
    await until(() => nucleus.requestCount('SubscribeToIoTCore') === subscribesWhenGivenUp + 3, 10_000, 'cloud subscriptions re-armed');
    await until(
      () => nucleus.cloudPublish(`$aws/things/${GW}/defender/metrics/json/rejected`, Buffer.from('{}')) > 0,
      5000,
      'the rejected subscription active',
    );
    await until(() => agent.snapshot().outbox.depth === 0, 20_000, 'outbox drained');

    // Health says how configuration is judged here.
    await until(() => health.length > 0, 5000, 'a health record');
    expect(health.at(-1)).toMatchObject({ configSource: 'nucleus', configValidation: 'on-apply', configErrors: [] });
  }, 120_000);

  it('a configuration refused on apply leaves the last good one in force and says so; a good one applies', async () => {
    const { nucleus, agent, lines, health } = await rig();
    nucleus.setOnline(true);
    await agent.start();
    await until(() => agent.snapshot().config.validation === 'on-apply', 5000, 'validation mode on-apply');

    const applied = await nucleus.changeConfig({ sampling: { intervalMs: 'fast' }, reporting: { maxListSize: 20 } });
    expect(applied).toMatchObject({ applied: true }); // lite has no one to ask
    await until(() => agent.snapshot().config.rejected === 1, 5000, 'the refusal');
    expect(agent.currentConfig().sampling.intervalMs).toBe(200);
    expect(agent.currentConfig().reporting.maxListSize).toBe(50);
    const refused = lines.find((l) => /refused when applied/.test(l.msg));
    expect(refused).toMatchObject({
      level: 50,
      errors: ['sampling.intervalMs: must be integer, got string "fast"'],
      validation: 'on-apply',
    });
    await until(() => health.at(-1)?.configErrors.length === 1, 5000, 'the refusal in the health record');
    expect(health.at(-1)).toMatchObject({
      configErrors: ['sampling.intervalMs: must be integer, got string "fast"'],
      configSource: 'nucleus',
    });

    await nucleus.changeConfig({ sampling: { intervalMs: 300 } });
    await until(() => agent.currentConfig().sampling.intervalMs === 300, 5000, 'the good configuration applied');
    expect(agent.currentConfig().reporting.maxListSize).toBe(20);
    expect(agent.snapshot().config.lastErrors).toEqual([]);
  }, 60_000);

  it('a configuration refused at start (no validation ran before) leaves the defaults in force and says so; the component still runs', async () => {
    const { nucleus, agent, lines } = await rig({ reporting: { intervalSeconds: '60' } });
    await agent.start();
    expect(agent.snapshot().config).toMatchObject({ source: 'defaults', refusedAtStart: true, rejected: 1 });
    expect(agent.currentConfig().reporting.intervalSeconds).toBe(300);
    expect(lines.find((l) => /refused at start/.test(l.msg))).toMatchObject({
      level: 50,
      errors: ['reporting.intervalSeconds: must be >= 300, got number 60'],
    });
    expect(lines.some((l) => /running on the defaults, not on the refused configuration/.test(l.msg))).toBe(true);
    // RUNNING, not ERRORED: the agent keeps guarding the gateway on what it has (configManager.ts explains why).
    expect(nucleus.requestCount('UpdateState')).toBe(1);
    // (What the health record carries; on the defaults its first one is a minute away.)
    expect(agent.snapshot().config.lastErrors).toEqual(['reporting.intervalSeconds: must be >= 300, got number 60']);
  }, 60_000);
});
