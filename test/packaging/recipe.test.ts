// biome-ignore-all lint/suspicious/noExplicitAny: the parsed recipe/gdk YAML is walked ad hoc by these assertions
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { zipName } from '../../scripts/buildTargets.ts';
import { accessControlFor, COMPONENT_NAME, recipeDefaultConfiguration } from '../../scripts/recipeDefaults.ts';
import { syncRecipeText } from '../../scripts/sync-recipe.ts';
import { validateComponentConfig } from '../../src/agent/configChecks.ts';
import {
  LITE_MAX_RECIPE_FILE_BYTES,
  LITE_MAX_SUBOBJECTS,
  liteConfigurationProblems,
  liteObjectProblems,
  liteSubobjectCount,
} from '../../src/config/liteLimits.ts';
import { defaultConfig } from '../../src/config/validate.ts';
import { recipeSchemaErrors } from '../support/gdkSchemas.ts';
import { type AccessControl, isAuthorized } from '../support/ipcAuthorization.ts';

const root = new URL('../..', import.meta.url);
const recipeText = readFileSync(new URL('recipe.yaml', root), 'utf8');
const recipe = parse(recipeText) as Record<string, any>;
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };

describe('recipe.yaml against gdk 1.6.2 recipe schema', () => {
  it('validates (keys lower-cased like gdk)', () => {
    expect(recipeSchemaErrors(recipe)).toEqual([]);
  });

  it('the validator rejects what gdk rejects (so the pass above means something)', () => {
    const badUnarchive = structuredClone(recipe);
    badUnarchive.Manifests[0].Artifacts[0].Unarchive = 'TAR';
    expect(recipeSchemaErrors(badUnarchive).join('\n')).toMatch(/unarchive/);
    const noManifests = structuredClone(recipe);
    delete noManifests.Manifests;
    expect(recipeSchemaErrors(noManifests).join('\n')).toMatch(/manifests/);
    const badName = { ...recipe, ComponentName: 'has space' };
    expect(recipeSchemaErrors(badName).join('\n')).toMatch(/componentname/);
    // Python's (?i) flag is honoured: lower-case `zip` is valid for gdk.
    const lowerZip = structuredClone(recipe);
    lowerZip.Manifests[0].Artifacts[0].Unarchive = 'zip';
    expect(recipeSchemaErrors(lowerZip)).toEqual([]);
  });

  it('names the component and keeps the version equal to package.json', () => {
    expect(recipe.RecipeFormatVersion).toBe('2020-01-25');
    expect(recipe.ComponentName).toBe(COMPONENT_NAME);
    expect(recipe.ComponentVersion).toBe(pkg.version);
  });
});

describe('recipe manifests', () => {
  it('has exactly one manifest per platform, each running its own binary from its own zip as root', () => {
    const manifests = recipe.Manifests as any[];
    expect(manifests.map((m) => `${m.Platform.os}/${m.Platform.architecture}`)).toEqual(['linux/amd64', 'linux/aarch64']);
    // Nucleus lite skips a manifest whose Platform names no runtime; "*" is accepted by the Java nucleus too.
    for (const m of manifests) expect(m.Platform.runtime).toBe('*');
    for (const m of manifests) {
      const arch = m.Platform.architecture as 'amd64' | 'aarch64';
      expect(m.Artifacts).toEqual([
        {
          URI: `s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/${zipName(arch)}`,
          Unarchive: 'ZIP',
          Permission: { Read: 'OWNER', Execute: 'OWNER' },
        },
      ]);
      // A ZIP unpacks into a folder named after the archive (Greengrass recipe reference).
      // Lower-case `run`: nucleus lite reads recipe keys case-sensitively and finds no lifecycle step under `Run`.
      expect(Object.keys(m.Lifecycle)).toEqual(['run']);
      expect(m.Lifecycle.run.Script).toBe(`{artifacts:decompressedPath}/${zipName(arch).replace(/\.zip$/, '')}/defender-edge run`);
      expect(m.Lifecycle.run.RequiresPrivilege).toBe(true);
    }
  });

  it('documents why it needs root and which capabilities would suffice', () => {
    for (const cap of ['CAP_NET_ADMIN', 'CAP_KILL', 'CAP_SYS_PTRACE', 'CAP_DAC_READ_SEARCH']) expect(recipeText).toContain(cap);
  });
});

describe('recipe DefaultConfiguration', () => {
  const defaults = recipe.ComponentConfiguration.DefaultConfiguration as Record<string, unknown>;

  it('is what scripts/recipeDefaults.ts produces (run `npm run recipe:sync` after changing the schema)', () => {
    expect(defaults).toEqual(recipeDefaultConfiguration());
    expect(syncRecipeText(recipeText, recipeDefaultConfiguration())).toBe(recipeText);
  });

  it('validates with the one config schema and every module check; the rest is the schema defaults', () => {
    const result = validateComponentConfig(defaults);
    expect(result.ok ? [] : result.errors).toEqual([]);
    expect(result.ok && result.config).toEqual({ ...defaultConfig(), ...defaults });
  });

  it('holds only what differs from the schema defaults (the seed behaviors) and accessControl', () => {
    expect(Object.keys(defaults).sort()).toEqual(['accessControl', 'behaviors']);
    expect((defaultConfig() as unknown as Record<string, unknown>).behaviors).toEqual([]);
    const result = validateComponentConfig(defaults);
    // Enforcement stays off unless a deployment turns it on.
    expect(result.ok && result.config.enforcement.mode).toBe('dry-run');
  });

  it("holds gateway-sized budgets, alert-only (not the scenario's 10 KB per process, which cries wolf on a fleet)", () => {
    const behaviors = defaults.behaviors as Array<Record<string, any>>;
    expect(
      behaviors.map((b) => [
        b.name,
        b.metric,
        b.criteria.comparisonOperator,
        b.criteria.value.count,
        b.criteria.durationSeconds,
        Object.keys(b.edge?.scope ?? { host: true, devices: true }).filter((k) => b.edge?.scope?.[k] ?? true),
      ]),
    ).toEqual([
      ['gatewayBytesOut', 'aws:all-bytes-out', 'less-than', 50_000_000, 300, ['host']],
      ['processBytesOut', 'aws:all-bytes-out', 'less-than', 10_000_000, 300, ['processes']],
      ['deviceBytesOut', 'aws:all-bytes-out', 'less-than', 10_000_000, 300, ['devices']],
      ['msgReceive', 'aws:num-messages-received', 'less-than', 3000, 300, ['host', 'devices']],
    ]);
    for (const b of behaviors) expect(b.edge?.action).toBeUndefined();
  });
});

describe('recipe accessControl', () => {
  const ac = recipe.ComponentConfiguration.DefaultConfiguration.accessControl as AccessControl;
  const mqtt = 'aws.greengrass.ipc.mqttproxy';
  const pubsub = 'aws.greengrass.ipc.pubsub';
  const pub = 'aws.greengrass#PublishToIoTCore';
  const sub = 'aws.greengrass#SubscribeToIoTCore';
  const lpub = 'aws.greengrass#PublishToTopic';
  const lsub = 'aws.greengrass#SubscribeToTopic';

  it('grants what the component uses, for the gateway and downstream things', () => {
    for (const thing of ['MyGateway', 'MyDevice']) {
      for (const f of ['json', 'cbor']) {
        expect(isAuthorized(ac, mqtt, pub, `$aws/things/${thing}/defender/metrics/${f}`)).toBe(true);
        for (const answer of ['accepted', 'rejected']) {
          expect(isAuthorized(ac, mqtt, sub, `$aws/things/${thing}/defender/metrics/${f}/${answer}`)).toBe(true);
          expect(isAuthorized(ac, pubsub, lpub, `$aws/things/${thing}/defender/metrics/${f}/${answer}`)).toBe(true);
        }
      }
      expect(isAuthorized(ac, mqtt, pub, `defender-edge/${thing}/violations`)).toBe(true);
      expect(isAuthorized(ac, mqtt, pub, `defender-edge/${thing}/heartbeat`)).toBe(true);
      // Operators' commands from the cloud, and their answers.
      expect(isAuthorized(ac, mqtt, sub, `defender-edge/${thing}/commands`)).toBe(true);
      expect(isAuthorized(ac, mqtt, pub, `defender-edge/${thing}/commands/accepted`)).toBe(true);
      expect(isAuthorized(ac, mqtt, pub, `defender-edge/${thing}/commands/rejected`)).toBe(true);
    }
    // The subscriptions as the component makes them: wildcard filters, matched literally by pubsub.
    expect(isAuthorized(ac, mqtt, sub, '$aws/things/+/defender/metrics/+/accepted')).toBe(true);
    expect(isAuthorized(ac, pubsub, lsub, '$aws/things/+/defender/metrics/+')).toBe(true);
    expect(isAuthorized(ac, pubsub, lpub, 'defender-edge/violations')).toBe(true);
  });

  it('grants nothing broader', () => {
    expect(Object.keys(ac).sort()).toEqual([mqtt, pubsub]);
    const denied: Array<[string, string, string]> = [
      [mqtt, pub, '$aws/things/MyGateway/shadow/update'],
      [mqtt, pub, '$aws/things/MyGateway/defender/metrics/json/accepted'],
      [mqtt, pub, 'rogue/agent'],
      [mqtt, pub, 'defender-edge/a/b/violations'],
      // The component answers commands; it must not be able to give them (to itself or another gateway).
      [mqtt, pub, 'defender-edge/MyGateway/commands'],
      [mqtt, sub, 'defender-edge/MyGateway/commands/accepted'],
      [mqtt, sub, '#'],
      [mqtt, sub, '$aws/things/MyGateway/defender/metrics/json'],
      [mqtt, sub, '$aws/things/MyGateway/jobs/notify'],
      [pubsub, lpub, '$aws/things/MyDevice/defender/metrics/json'],
      [pubsub, lpub, 'anything/else'],
      [pubsub, lsub, '#'],
      [pubsub, lsub, 'defender-edge/violations'],
      [mqtt, 'aws.greengrass#GetThingShadow', '$aws/things/MyGateway/defender/metrics/json'],
    ];
    for (const [service, op, resource] of denied)
      expect({ service, op, resource, ok: isAuthorized(ac, service, op, resource) }).toMatchObject({ ok: false });
    for (const policies of Object.values(ac)) {
      for (const p of Object.values(policies)) {
        expect(p.operations).not.toContain('*');
        expect(p.resources).not.toContain('*');
        // Recipe variables stay literal without interpolateComponentConfiguration (docs/greengrass-ipc.md).
        for (const r of p.resources) expect(r).not.toMatch(/\{iot:/);
      }
    }
  });

  it('follows configured topics, and policy ids are unique to this component', () => {
    const config = defaultConfig();
    config.downstream.messageTopics = ['site/{thingName}/telemetry'];
    const derived = accessControlFor(config) as AccessControl;
    expect(isAuthorized(derived, pubsub, lsub, 'site/+/telemetry')).toBe(true);
    for (const policies of Object.values(ac))
      for (const id of Object.keys(policies)) expect(id.startsWith(`${COMPONENT_NAME}:`)).toBe(true);
  });
});

describe('recipe within nucleus lite limits', () => {
  it('decodes within 255 sub-objects and 15 levels as a whole, as lite reads it for a deployment', () => {
    // Counted as lite counts (src/config/liteLimits.ts): the whole recipe, not only its configuration.
    expect(liteObjectProblems('recipe.yaml', recipe)).toEqual([]);
    expect(liteSubobjectCount(recipe)).toBeLessThanOrEqual(LITE_MAX_SUBOBJECTS);
  });

  it('fits lite’s recipe file buffer, and its configuration fits one GetConfiguration answer', () => {
    expect(Buffer.byteLength(recipeText)).toBeLessThanOrEqual(LITE_MAX_RECIPE_FILE_BYTES);
    expect(liteConfigurationProblems(recipe.ComponentConfiguration.DefaultConfiguration, 'DefaultConfiguration')).toEqual([]);
  });

  it('would have caught the recipe that lite refused: every schema default spelled out', () => {
    const full = structuredClone(recipe);
    full.ComponentConfiguration.DefaultConfiguration = { ...defaultConfig(), ...recipe.ComponentConfiguration.DefaultConfiguration };
    expect(liteObjectProblems('recipe.yaml', full)).toEqual([
      expect.stringMatching(/^recipe\.yaml: holds \d+ sub-objects .* at most 255$/),
    ]);
  });
});
