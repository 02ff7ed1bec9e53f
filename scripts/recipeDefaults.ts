// The recipe's ComponentConfiguration.DefaultConfiguration: the seed profile and the IPC authorization the
// component needs, and nothing the ONE config schema already defaults (src/config/schema.ts fills those in
// at start). Kept that small because nucleus lite refuses a recipe whose decoded object is larger than 255
// sub-objects (src/config/liteLimits.ts). `npm run recipe:sync` writes it into recipe.yaml;
// test/packaging/recipe.test.ts fails when recipe.yaml and this drift apart.

import type { ComponentConfig } from '../src/config/schema.ts';
import { defaultConfig } from '../src/config/validate.ts';
import { COMMANDS_TOPIC } from '../src/control/protocol.ts';

export const COMPONENT_NAME = 'com.defender-edge.DefenderEdge';

/**
 * The default profile: budgets sized for a gateway, so that a fleet roll-out raises nothing on a gateway
 * that is only doing its job (measured: docs/localrules.md#the-default-profile), while a process or a
 * device that starts moving megabytes, or a flood of messages, is still named. Alert-only: no
 * `edge.action`, and enforcement is in dry-run anyway. The reference scenario's own profile
 * (`CheckRogueDevices`: bytesOut < 10,000 per 300 s, msgReceive < 100 per 300 s, docs/demo.md#the-scenario)
 * is far tighter — every chatty process of a desktop crosses 10 KB in 5 minutes — and is what the demo
 * runs; docs/localrules.md shows how to deploy it.
 */
export function seedBehaviors(): unknown[] {
  const bytesOut = (name: string, count: number, scope: Record<string, boolean>) => ({
    name,
    metric: 'aws:all-bytes-out',
    criteria: { comparisonOperator: 'less-than', value: { count }, durationSeconds: 300 },
    edge: { scope },
  });
  return [
    // The gateway's own uplink: 50 MB per 5 minutes is ~1.3 Mbit/s sustained.
    bytesOut('gatewayBytesOut', 50_000_000, { host: true }),
    // Any one process (sockets attributed by the collector, loopback included): 10 MB per 5 minutes.
    bytesOut('processBytesOut', 10_000_000, { processes: true }),
    // Any one downstream device, as the gateway sees its traffic or as its own report says.
    bytesOut('deviceBytesOut', 10_000_000, { devices: true }),
    {
      // Messages per device on `downstream.messageTopics` (none configured by default: no datapoints).
      name: 'msgReceive',
      metric: 'aws:num-messages-received',
      criteria: { comparisonOperator: 'less-than', value: { count: 3000 }, durationSeconds: 300 },
    },
  ];
}

/**
 * A topic with our `{thingName}` placeholder as the topic filter the component uses for every thing:
 * the `+` level. For mqttproxy it is an MQTT wildcard; for pubsub subscriptions the policy must name
 * the filter exactly as subscribed, which is this same string.
 */
function anyThingFilter(topic: string): string {
  // `{iot:thingName}` in a policy only works with interpolateComponentConfiguration
  // (docs/greengrass-ipc.md#authorization-accesscontrol); `+` as a whole level is an MQTT wildcard for
  // mqttproxy resources and matches the gateway and every downstream thing the component reports for
  // (docs/reports.md#topics).
  return topic.replaceAll('{thingName}', '+');
}

/** Device Defender formats the service accepts reports in (`/json`, `/cbor`, docs/reports.md#topics). */
const REPORT_FORMATS = ['json', 'cbor'] as const;

/**
 * The IPC authorization (docs/greengrass-ipc.md#authorization-accesscontrol), exactly what the component calls:
 * - mqttproxy PublishToIoTCore: Defender reports for the gateway and downstream things in both formats,
 *   the violations topic, the heartbeat topic and the answers to operators' commands;
 * - mqttproxy SubscribeToIoTCore: the service's accepted/rejected answers for those reports, and the
 *   operators' commands topic (src/control/cloudCommands.ts);
 * - pubsub SubscribeToTopic: the local topic filter downstream devices publish their own reports on
 *   (STANDARD matching: the filter string is matched literally, so the policy names it as subscribed),
 *   plus the per-device message topics counted for aws:num-messages-*;
 * - pubsub PublishToTopic: the local violations and health topics and the local accepted/rejected answers to
 *   downstream reports (`*` is the only wildcard pubsub policies know; a published topic has none).
 * Policy ids start with the component name: they must be unique across all components.
 */
export function accessControlFor(config: ComponentConfig): Record<string, unknown> {
  const publishToIoTCore = [
    ...REPORT_FORMATS.map((f) => `$aws/things/+/defender/metrics/${f}`),
    anyThingFilter(config.violations.cloudTopic),
    anyThingFilter(config.heartbeat.topic),
    ...['accepted', 'rejected'].map((answer) => `${anyThingFilter(COMMANDS_TOPIC)}/${answer}`),
  ];
  const subscribeToIoTCore = [
    ...['accepted', 'rejected'].map((answer) => `$aws/things/+/defender/metrics/+/${answer}`),
    anyThingFilter(COMMANDS_TOPIC),
  ];
  const downstreamAnswers = REPORT_FORMATS.flatMap((f) => ['accepted', 'rejected'].map((a) => `$aws/things/*/defender/metrics/${f}/${a}`));
  return {
    'aws.greengrass.ipc.mqttproxy': {
      [`${COMPONENT_NAME}:mqttproxy:publish`]: {
        policyDescription:
          'Publish Device Defender reports (gateway and downstream things), violations, heartbeats and answers to operator commands to AWS IoT Core',
        operations: ['aws.greengrass#PublishToIoTCore'],
        resources: publishToIoTCore,
      },
      [`${COMPONENT_NAME}:mqttproxy:subscribe`]: {
        policyDescription: 'Receive Device Defender accepted/rejected answers for the reports above, and operator commands',
        operations: ['aws.greengrass#SubscribeToIoTCore'],
        resources: subscribeToIoTCore,
      },
    },
    'aws.greengrass.ipc.pubsub': {
      [`${COMPONENT_NAME}:pubsub:subscribe`]: {
        policyDescription: 'Receive Defender reports and count messages published locally by downstream devices',
        operations: ['aws.greengrass#SubscribeToTopic'],
        resources: [config.downstream.reportTopic, ...config.downstream.messageTopics.map(anyThingFilter)],
      },
      [`${COMPONENT_NAME}:pubsub:publish`]: {
        policyDescription: 'Publish local violations and health records, and answer downstream reports (accepted/rejected)',
        operations: ['aws.greengrass#PublishToTopic'],
        resources: [config.violations.localTopic, config.heartbeat.localTopic, ...downstreamAnswers],
      },
    },
  };
}

/**
 * The DefaultConfiguration: what differs from the schema defaults (the seed behaviors) plus the access
 * control. Every other setting is the schema's default, filled in when the configuration is validated.
 */
export function recipeDefaultConfiguration(): Record<string, unknown> {
  return { behaviors: seedBehaviors(), accessControl: accessControlFor(defaultConfig()) };
}
