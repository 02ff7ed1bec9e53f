// The fleet configuration: defaults, and a `path: message` error naming the field and the value for every
// problem (all of them at once), also through the app the CLI runs.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fleet } from '../fleet.config.ts';
import { DEFAULT_CLIENT_DEVICE_VERSIONS, FleetConfigError, fleetSettings } from '../lib/fleetConfig.ts';
import { TSX, testFleet } from './support.ts';

function errorsOf(input: unknown): string[] {
  try {
    fleetSettings(input);
  } catch (err) {
    if (err instanceof FleetConfigError) return err.errors;
    throw err;
  }
  throw new Error('expected the configuration to be refused');
}

describe('fleet configuration', () => {
  it('fills in the defaults', () => {
    const s = fleetSettings(fleet);
    expect(s).toMatchObject({
      name: 'DefenderEdge',
      clientDevices: { brokerPort: 8883, versions: DEFAULT_CLIENT_DEVICE_VERSIONS },
      alerts: { dedupeDays: 30 },
      monitoring: { namespace: 'DefenderEdge', violationsAlarmThreshold: 10, logRetentionDays: 30, heartbeatLogs: true },
      tokenExchange: { roleAliasName: 'GreengrassV2TokenExchangeRoleAlias' },
      attachPolicies: true,
      rollout: { maximumPerMinute: 50, abortThresholdPercentage: 10, minExecutedThings: 10 },
    });
    expect(s.env).toBeUndefined();
  });

  it('names every bad field with its value', () => {
    const errors = errorsOf(
      testFleet((f) => {
        (f as unknown as Record<string, unknown>).colour = 'blue';
        f.name = '9lives';
        f.gateways.thingGroupName = 'has space';
        f.gateways.watch = ['sensor-1'];
        f.component.version = 'latest';
        f.alerts.emails = ['not-an-address'];
        f.clientDevices = { brokerPort: 70_000, versions: { auth: '2.5' } };
        f.monitoring = { logRetentionDays: 8, namespace: 'AWS/IoT' };
        f.env = { region: 'mars' };
      }),
    );
    expect(errors).toEqual(
      expect.arrayContaining([
        '(root).colour: unknown setting (known: name, env, gateways, downstream, component, clientDevices, alerts, monitoring, tokenExchange, attachPolicies, rollout)',
        'name: must be a letter then up to 39 letters, digits or dashes, got "9lives"',
        'gateways.thingGroupName: must be a thing group name ([a-zA-Z0-9:_-]{1,128}), got "has space"',
        'gateways.watch[0]: "sensor-1" does not start with gateways.thingNamePrefix "gw-"',
        'component.version: must be a published component version like 1.0.0, got "latest"',
        'alerts.emails[0]: must be an e-mail address, got "not-an-address"',
        'clientDevices.brokerPort: must be an integer from 1 to 65535, got 70000',
        'clientDevices.versions.auth: must be a component version like 2.5.2, got "2.5"',
        expect.stringMatching(
          /^monitoring\.logRetentionDays: must be one of CloudWatch Logs' retention values \(1, 3, 5, 7, 14, 30, .*\), got 8$/,
        ),
        'monitoring.namespace: must not start with AWS/ (reserved), got "AWS/IoT"',
        'env.region: must be a region name like eu-west-1, got "mars"',
      ]),
    );
    expect(errors).toHaveLength(11);
    expect(errorsOf('nope')).toEqual(['(root): must be an object, got "nope"']);
    expect(errorsOf({ gateways: {}, downstream: {}, component: {} })).toEqual([
      'gateways.thingGroupName: must be a thing group name ([a-zA-Z0-9:_-]{1,128}), got undefined',
      "gateways.thingNamePrefix: must be a thing-name prefix ([a-zA-Z0-9:_-]{0,100}; '' = any), got undefined",
      "downstream.thingNamePrefix: must be a thing-name prefix ([a-zA-Z0-9:_-]{0,100}; '' = any), got undefined",
      'component.version: must be a published component version like 1.0.0, got undefined',
      'alerts: must be an object, got undefined',
      'alerts.emails: required: the addresses that receive violation alerts and alarms',
    ]);
  });

  it('refuses a component configuration that moves the topics the rules, policies and bridge are built on', () => {
    const errors = errorsOf(
      testFleet((f) => {
        f.component.configuration = {
          violations: { cloudTopic: 'alerts/{thingName}' },
          heartbeat: { enabled: false, topic: 'defender-edge/{thingName}/heartbeat' },
          accessControl: {},
        };
      }),
    );
    expect(errors).toEqual([
      'component.configuration.violations.cloudTopic: must stay "defender-edge/{thingName}/violations" (the IoT rules, the core\'s IoT policy and the MQTT bridge are built on it), got "alerts/{thingName}"',
      "component.configuration.accessControl: leave it to the recipe: the recipe's policies grant exactly the topics the rules and bridge use",
      'component.configuration.heartbeat.enabled: is false, but gateways.expectedCount / gateways.watch alarm on missing heartbeats',
    ]);
  });

  it('the app prints the errors and exits 1 instead of synthesizing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dedge-cloud-'));
    try {
      const here = new URL('../', import.meta.url);
      for (const d of ['bin', 'lib', 'lambda']) cpSync(new URL(d, here), join(dir, d), { recursive: true });
      writeFileSync(
        join(dir, 'fleet.config.ts'),
        "export const fleet = { gateways: { thingGroupName: 'g', thingNamePrefix: 'gw-' }, downstream: { thingNamePrefix: 's-' }, component: { version: '1' }, alerts: { emails: [] } };\n",
      );
      // The copied app resolves aws-cdk-lib from this package's node_modules.
      symlinkSync(new URL('node_modules', here), join(dir, 'node_modules'));
      const run = promisify(execFile)(TSX, ['bin/app.ts'], { cwd: dir });
      const failure = await run.then(
        () => undefined,
        (err: { code: number; stderr: string }) => err,
      );
      expect(failure?.code).toBe(1);
      expect(failure?.stderr).toBe('fleet.config.ts:\n  component.version: must be a published component version like 1.0.0, got "1"\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
