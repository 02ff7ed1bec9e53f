// The fleet: the ONE file to edit before `npx cdk deploy` (its settings are described in
// lib/fleetConfig.ts and README.md). Validated at synth; an error names the setting and its value.
import type { FleetConfig } from './lib/fleetConfig.ts';

export const fleet: FleetConfig = {
  name: 'DefenderEdge',
  gateways: {
    thingGroupName: 'defender-edge-gateways',
    thingNamePrefix: 'gw-',
  },
  downstream: {
    thingNamePrefix: 'sensor-',
  },
  component: {
    version: '0.1.0',
    // Merged over the recipe's DefaultConfiguration. Lists replace: `behaviors` is the whole profile.
    configuration: {
      enforcement: { mode: 'dry-run' },
    },
  },
  alerts: {
    emails: ['security-team@example.com'],
  },
};
