// The client-device part of a Greengrass deployment for a gateway running defender-edge: what a real
// deployment carries so that downstream devices can send their Device Defender reports through the core
// (Greengrass developer guide: connect-client-devices, client-device-auth-component, mqtt-bridge-component):
// - aws.greengrass.clientdevices.Auth: one device group with the devices' policy — connect with the thing
//   name as client id, publish reports under their own thing, subscribe to the answers;
// - aws.greengrass.clientdevices.mqtt.Moquette and aws.greengrass.clientdevices.IPDetector: the broker
//   and the connectivity information devices discover it by (no configuration needed);
// - aws.greengrass.clientdevices.mqtt.Bridge: reports from local MQTT to local pub/sub, where the
//   component listens, and the component's accepted/rejected answers back to local MQTT.
// Client device policies know only `*` as a wildcard (`+`/`#` are literal there), so the report topics
// are written `.../defender/metrics/*`. The emulator takes this document with `deploy` / --deployment;
// `aws greengrassv2 create-deployment` takes it too (with a targetArn).
import { THING_NAME_VARIABLE } from './clientDeviceAuth.ts';

const THING = THING_NAME_VARIABLE;

export interface ClientDeviceDeploymentOptions {
  /** Which devices belong to the group, e.g. `thingName: Sensor*` (default: every thing, `thingName: *`). */
  selectionRule?: string;
  /** Extra policy statements, by name: `{ operations: [...], resources: [...] }`. */
  extraStatements?: Record<string, { operations: string[]; resources: string[] }>;
  /** Extra bridge mapping entries, by name. */
  extraMappings?: Record<string, { topic: string; source: string; target: string; targetTopicPrefix?: string }>;
  /** Also deploy this component (name, version and its own configuration merge). */
  component?: { name: string; version: string; merge?: Record<string, unknown> };
}

/**
 * Versions written into the document, the same as the cloud app's (cloud/lib/fleetConfig.ts) and docs/examples/deployment.json
 * (test/integration/downstreamDeployment.test.ts compares them); the emulator does not check them.
 */
export const CLIENT_DEVICE_COMPONENT_VERSIONS = {
  'aws.greengrass.clientdevices.Auth': '2.5.2',
  'aws.greengrass.clientdevices.mqtt.Moquette': '2.3.7',
  'aws.greengrass.clientdevices.mqtt.Bridge': '2.3.2',
  'aws.greengrass.clientdevices.IPDetector': '2.2.2',
} as const;

export function clientDeviceDeployment(options: ClientDeviceDeploymentOptions = {}): Record<string, unknown> {
  const deviceGroups = {
    formatVersion: '2021-03-05',
    definitions: {
      DefenderEdgeDevices: { selectionRule: options.selectionRule ?? 'thingName: *', policyName: 'DefenderEdgeDevicePolicy' },
    },
    policies: {
      DefenderEdgeDevicePolicy: {
        Connect: {
          statementDescription: 'Connect with the thing name as client id',
          operations: ['mqtt:connect'],
          resources: [`mqtt:clientId:${THING}`],
        },
        PublishReports: {
          statementDescription: 'Device Defender reports of the device itself (json or cbor)',
          operations: ['mqtt:publish'],
          resources: [`mqtt:topic:$aws/things/${THING}/defender/metrics/*`],
        },
        SubscribeAnswers: {
          statementDescription: 'The accepted/rejected answers to its reports',
          operations: ['mqtt:subscribe'],
          resources: [`mqtt:topicfilter:$aws/things/${THING}/defender/metrics/*`],
        },
        ...(options.extraStatements ?? {}),
      },
    },
  };
  const mqttTopicMapping = {
    DefenderReportsToPubsub: { topic: '$aws/things/+/defender/metrics/+', source: 'LocalMqtt', target: 'Pubsub' },
    DefenderAcceptedToLocalMqtt: { topic: '$aws/things/+/defender/metrics/+/accepted', source: 'Pubsub', target: 'LocalMqtt' },
    DefenderRejectedToLocalMqtt: { topic: '$aws/things/+/defender/metrics/+/rejected', source: 'Pubsub', target: 'LocalMqtt' },
    ...(options.extraMappings ?? {}),
  };
  const v = CLIENT_DEVICE_COMPONENT_VERSIONS;
  const components: Record<string, unknown> = {
    'aws.greengrass.clientdevices.Auth': {
      componentVersion: v['aws.greengrass.clientdevices.Auth'],
      configurationUpdate: { merge: JSON.stringify({ deviceGroups }) },
    },
    'aws.greengrass.clientdevices.mqtt.Moquette': { componentVersion: v['aws.greengrass.clientdevices.mqtt.Moquette'] },
    'aws.greengrass.clientdevices.mqtt.Bridge': {
      componentVersion: v['aws.greengrass.clientdevices.mqtt.Bridge'],
      configurationUpdate: { merge: JSON.stringify({ mqttTopicMapping }) },
    },
    'aws.greengrass.clientdevices.IPDetector': { componentVersion: v['aws.greengrass.clientdevices.IPDetector'] },
  };
  if (options.component) {
    components[options.component.name] = {
      componentVersion: options.component.version,
      ...(options.component.merge ? { configurationUpdate: { merge: JSON.stringify(options.component.merge) } } : {}),
    };
  }
  return { deploymentName: 'defender-edge with client devices', components };
}
