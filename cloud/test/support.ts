// Shared by the cloud tests (not a test file itself): a synthesized stack for a fleet configuration, and
// where the project root (the agent) is.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { type FleetConfig, fleetSettings } from '../lib/fleetConfig.ts';
import { FleetStack } from '../lib/fleetStack.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = `${ROOT}bin/defender-edge.js`;
export const RECIPE = `${ROOT}recipe.yaml`;

/** The tsx this package runs its app with (`npm run synth`, cdk.json). */
export const TSX = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));

/** The project's pinned Node 24 (the agent's sources need its TypeScript type stripping). */
export function rootNode(): string {
  const pinned = `${ROOT}node_modules/.bin/node`;
  if (existsSync(pinned)) return pinned;
  if (Number(process.versions.node.split('.')[0]) >= 24) return process.execPath;
  throw new Error(`the project root is not installed: run \`npm ci\` in ${ROOT} first (the cloud tests run its agent)`);
}

/** A valid fleet configuration, optionally changed. */
export function testFleet(change: (f: FleetConfig) => void = () => undefined): FleetConfig {
  const f: FleetConfig = {
    name: 'TestFleet',
    gateways: { thingGroupName: 'test-gateways', thingNamePrefix: 'gw-', expectedCount: 20, watch: ['gw-critical'] },
    downstream: { thingNamePrefix: 'sensor-', thingGroupName: 'test-sensors' },
    component: {
      version: '1.2.3',
      configuration: {
        enforcement: { mode: 'dry-run', protectedProcesses: ['sshd', 'systemd'] },
        downstream: { messageTopics: ['devices/{thingName}/telemetry'] },
      },
    },
    alerts: { emails: ['ops@example.com', 'sec@example.com'] },
  };
  change(f);
  return f;
}

export function synth(config: FleetConfig): { stack: FleetStack; template: Template } {
  const app = new App();
  const stack = new FleetStack(app, 'Fleet', fleetSettings(config));
  return { stack, template: Template.fromStack(stack) };
}

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

/** The resources of one type, by logical id. */
export function resourcesOf(template: Template, type: string): Resources {
  return template.findResources(type) as Resources;
}
