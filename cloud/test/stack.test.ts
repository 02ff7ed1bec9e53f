// The synthesized template: what the stack creates for a fleet, and that the parts agree with each other.
import { readFileSync } from 'node:fs';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { AUTH, BRIDGE, COMPONENT, IP_DETECTOR, MOQUETTE } from '../lib/componentConfigs.ts';
import { alertSql, HEARTBEAT_SQL } from '../lib/rules.ts';
import { NOTIFY_SOURCE } from '../lib/violationAlerts.ts';
import { parseSql } from './iotSql.ts';
import { clientDeviceAllows, iotPolicyAllows } from './policyMatch.ts';
import { resourcesOf, synth, testFleet } from './support.ts';

type Template = ReturnType<typeof synth>['template'];
let template: Template;
let rules: Array<{ name: string; payload: Record<string, unknown> }>;
let components: Record<string, { ComponentVersion: string; ConfigurationUpdate: { Merge: string } }>;

beforeAll(() => {
  template = synth(testFleet()).template;
  rules = Object.values(resourcesOf(template, 'AWS::IoT::TopicRule')).map((r) => ({
    name: r.Properties.RuleName as string,
    payload: r.Properties.TopicRulePayload as Record<string, unknown>,
  }));
  const deployment = Object.values(resourcesOf(template, 'AWS::GreengrassV2::Deployment'))[0]!;
  components = deployment.Properties.Components as typeof components;
});

/** A CloudFormation value with Fn::Join flattened, tokens as `<Ref>`. */
function flat(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && 'Fn::Join' in v) {
    const [sep, parts] = (v as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    return parts.map(flat).join(sep);
  }
  if (v && typeof v === 'object' && 'Ref' in v) return `<${(v as { Ref: string }).Ref}>`;
  return JSON.stringify(v);
}

const merge = (name: string) => JSON.parse(components[name]!.ConfigurationUpdate.Merge) as Record<string, unknown>;

describe('IoT rules', () => {
  it('six rules on the agent topics, every one with an error action to the rule-errors log group', () => {
    expect(rules.map((r) => r.name).sort()).toEqual(
      ['actions', 'alerts', 'heartbeats', 'new_violations', 'violation_events', 'watched_heartbeats'].map((n) => `TestFleet_${n}`),
    );
    const errorsGroup = Object.values(resourcesOf(template, 'AWS::Logs::LogGroup'))
      .map((g) => g.Properties.LogGroupName)
      .find((n) => n === '/defender-edge/TestFleet/rule-errors');
    expect(errorsGroup).toBeDefined();
    for (const r of rules) {
      expect(r.payload.AwsIotSqlVersion).toBe('2016-03-23');
      const err = r.payload.ErrorAction as { CloudwatchLogs?: { LogGroupName: unknown } };
      expect(err.CloudwatchLogs, r.name).toBeDefined();
      // Every rule's SQL is inside the subset the tests can evaluate.
      expect(() => parseSql(r.payload.Sql as string), r.name).not.toThrow();
    }
    const errorTargets = new Set(rules.map((r) => JSON.stringify((r.payload.ErrorAction as { CloudwatchLogs: unknown }).CloudwatchLogs)));
    expect(errorTargets.size).toBe(1);
  });

  it('alerts: unsuppressed in-alarm violations into the dedupe table, with a TTL', () => {
    const alerts = rules.find((r) => r.name === 'TestFleet_alerts')!;
    expect(alerts.payload.Sql).toBe(alertSql(30));
    expect(alerts.payload.Sql).toContain("WHERE record = 'violation' AND event = 'in-alarm' AND suppressAlerts = false");
    expect(alerts.payload.Actions).toEqual([
      { DynamoDBv2: { PutItem: { TableName: { Ref: expect.any(String) } }, RoleArn: expect.anything() } },
    ]);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'violationId', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
    });
  });

  it('only first writes of a violation id reach the notifier, which publishes to the alerts topic with its e-mail subscribers', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ eventName: ['INSERT'] }) }] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      StartingPosition: 'TRIM_HORIZON',
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Handler: 'index.handler',
      Environment: { Variables: { ALERT_TOPIC_ARN: { Ref: Match.stringLikeRegexp('ViolationAlertsTopic') } } },
    });
    for (const email of ['ops@example.com', 'sec@example.com']) {
      template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: email,
        TopicArn: { Ref: Match.stringLikeRegexp('ViolationAlertsTopic') },
      });
    }
    // CloudFormation's inline ZipFile is limited to 4096 characters.
    expect(readFileSync(NOTIFY_SOURCE, 'utf8').length).toBeLessThanOrEqual(4096);
  });

  it('metrics: cloudwatchMetric actions per event type, thing, behavior, action outcome and gateway, under the fleet namespace', () => {
    const metricsOf = (name: string) =>
      (rules.find((r) => r.name === `TestFleet_${name}`)!.payload.Actions as Array<{ CloudwatchMetric?: Record<string, string> }>)
        .filter((a) => a.CloudwatchMetric)
        .map(
          (a) =>
            `${a.CloudwatchMetric!.MetricNamespace} ${a.CloudwatchMetric!.MetricName} ${a.CloudwatchMetric!.MetricValue} ${a.CloudwatchMetric!.MetricUnit}`,
        );
    expect(metricsOf('violation_events')).toEqual(['DefenderEdge/Violations ${event} 1 Count']);
    expect(metricsOf('new_violations')).toEqual([
      'DefenderEdge/NewViolationsByThing ${thingName} 1 Count',
      'DefenderEdge/NewViolationsByBehavior ${behavior} 1 Count',
    ]);
    expect(metricsOf('actions')).toEqual([
      'DefenderEdge/ActionsByOutcome ${outcome} 1 Count',
      'DefenderEdge/ActionsByType ${type} 1 Count',
      'DefenderEdge/ActionsByThing ${violation.thingName} 1 Count',
    ]);
    expect(metricsOf('heartbeats')).toEqual(['DefenderEdge Heartbeats 1 Count']);
    expect(rules.find((r) => r.name === 'TestFleet_heartbeats')!.payload.Sql).toBe(HEARTBEAT_SQL);
    // Per-gateway heartbeat metrics (billed the whole month each) only for the watched gateways.
    expect(metricsOf('watched_heartbeats')).toEqual(['DefenderEdge/Heartbeats ${topic(2)} 1 Count']);
    expect(rules.find((r) => r.name === 'TestFleet_watched_heartbeats')!.payload.Sql).toBe(
      `${HEARTBEAT_SQL} WHERE topic(2) = 'gw-critical'`,
    );
  });

  it('the rule actions role may put metrics only under the fleet namespace, write the table and the three log groups', () => {
    const policies = Object.values(resourcesOf(template, 'AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p).includes('cloudwatch:PutMetricData'),
    );
    expect(policies).toHaveLength(1);
    const statements = (policies[0]!.Properties.PolicyDocument as { Statement: Array<Record<string, unknown>> }).Statement;
    expect(statements.find((s) => s.Action === 'cloudwatch:PutMetricData')).toMatchObject({
      Condition: { StringLike: { 'cloudwatch:namespace': ['DefenderEdge', 'DefenderEdge/*'] } },
    });
    expect(statements.some((s) => s.Action === 'dynamodb:PutItem')).toBe(true);
    expect(statements.filter((s) => JSON.stringify(s.Action).includes('logs:PutLogEvents'))).toHaveLength(3);
  });
});

describe('dashboard and alarms', () => {
  it('a dashboard with the fleet views; alarms on violations, failures, rule errors and missing heartbeats, to the operations topic', () => {
    const dashboards = Object.values(resourcesOf(template, 'AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = flat(dashboards[0]!.Properties.DashboardBody);
    for (const title of [
      'Fleet violations',
      'Top 10 offending things',
      'Top 10 behaviors',
      'Enforcement actions by outcome',
      'Violations in alarm now',
      'Gateways by last heartbeat',
      'Heartbeats (fleet, and each watched gateway',
    ]) {
      expect(body, title).toContain(title);
    }
    expect(body).toContain(`SORT(SEARCH('{\\"DefenderEdge/NewViolationsByThing\\"}', 'Sum', 300), SUM, DESC, 10)`);

    const alarms = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm'));
    const byMetric = (ns: string, name: string) => alarms.find((a) => a.Properties.Namespace === ns && a.Properties.MetricName === name);
    expect(byMetric('DefenderEdge/Violations', 'in-alarm')?.Properties).toMatchObject({
      Threshold: 10,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    expect(byMetric('DefenderEdge/ActionsByOutcome', 'failed')).toBeDefined();
    expect(byMetric('DefenderEdge', 'RuleActionErrors')).toBeDefined();
    // 20 gateways × 5 heartbeats (60 s) per 5 minutes, alarm under 90 %.
    expect(byMetric('DefenderEdge', 'Heartbeats')?.Properties).toMatchObject({
      Threshold: 90,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
    expect(byMetric('DefenderEdge/Heartbeats', 'gw-critical')?.Properties).toMatchObject({ TreatMissingData: 'breaching' });
    expect(alarms).toHaveLength(6);
    for (const a of alarms) expect(JSON.stringify(a.Properties.AlarmActions)).toContain('OperationsAlarms');
  });

  it('no heartbeat alarms unless asked for, and no heartbeat log group when heartbeat logs are off', () => {
    const t = synth(
      testFleet((f) => {
        delete f.gateways.expectedCount;
        delete f.gateways.watch;
        f.monitoring = { heartbeatLogs: false };
      }),
    ).template;
    const alarms = Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm'));
    expect(alarms.map((a) => a.Properties.MetricName)).not.toContain('Heartbeats');
    expect(alarms).toHaveLength(4);
    expect(Object.values(resourcesOf(t, 'AWS::IoT::TopicRule')).map((r) => r.Properties.RuleName)).not.toContain(
      'TestFleet_watched_heartbeats',
    );
    const groups = Object.values(resourcesOf(t, 'AWS::Logs::LogGroup')).map((g) => g.Properties.LogGroupName);
    expect(groups).not.toContain('/defender-edge/TestFleet/heartbeats');
  });
});

describe('Greengrass deployment', () => {
  it('targets the gateways thing group with our component and the four client-device components, rolled out at a bounded rate', () => {
    const deployment = Object.values(resourcesOf(template, 'AWS::GreengrassV2::Deployment'))[0]!;
    expect(flat(deployment.Properties.TargetArn)).toBe('arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:thinggroup/test-gateways');
    expect(Object.keys(components).sort()).toEqual([AUTH, IP_DETECTOR, BRIDGE, MOQUETTE, COMPONENT].sort());
    expect(components[COMPONENT]!.ComponentVersion).toBe('1.2.3');
    expect(components[AUTH]!.ComponentVersion).toBe('2.5.2');
    expect(deployment.Properties.DeploymentPolicies).toMatchObject({
      FailureHandlingPolicy: 'ROLLBACK',
      ConfigurationValidationPolicy: { TimeoutInSeconds: 30 },
    });
    expect(deployment.Properties.IotJobConfiguration).toMatchObject({
      JobExecutionsRolloutConfig: { MaximumPerMinute: 50 },
      AbortConfig: { CriteriaList: [{ Action: 'CANCEL', FailureType: 'ALL', MinNumberOfExecutedThings: 10, ThresholdPercentage: 10 }] },
    });
  });

  it("our component's merge is the fleet configuration plus the downstream thing-name pattern; the broker port is counted", () => {
    expect(merge(COMPONENT)).toEqual({
      enforcement: { mode: 'dry-run', protectedProcesses: ['sshd', 'systemd'] },
      downstream: { messageTopics: ['devices/{thingName}/telemetry'], thingNamePattern: 'sensor-[a-zA-Z0-9:_-]*' },
    });
    const t = synth(testFleet((f) => (f.clientDevices = { brokerPort: 9883 }))).template;
    const d = Object.values(resourcesOf(t, 'AWS::GreengrassV2::Deployment'))[0]!.Properties.Components as typeof components;
    const m = (n: string) => JSON.parse(d[n]!.ConfigurationUpdate.Merge) as Record<string, unknown>;
    expect(m(COMPONENT)).toMatchObject({ collector: { mqttPorts: [1883, 8883, 9883] } });
    expect(m(MOQUETTE)).toEqual({ moquette: { ssl_port: 9883 } });
    expect(m(IP_DETECTOR)).toEqual({ defaultPort: 9883 });
    expect(m(BRIDGE)).toMatchObject({ brokerUri: 'ssl://localhost:9883' });
  });

  it('client device auth: the downstream devices by prefix, resources with `*` as the only wildcard', () => {
    const auth = merge(AUTH) as unknown as Parameters<typeof clientDeviceAllows>[0];
    expect(auth.deviceGroups.definitions).toEqual({
      DefenderEdgeDownstreamDevices: { selectionRule: 'thingName: sensor-*', policyName: 'DefenderEdgeDownstreamPolicy' },
    });
    const resources = Object.values(auth.deviceGroups.policies.DefenderEdgeDownstreamPolicy!).flatMap((s) => s.resources);
    expect(resources).toContain('mqtt:topic:$aws/things/${iot:Connection.Thing.ThingName}/defender/metrics/json');
    expect(resources).toContain('mqtt:topicfilter:$aws/things/${iot:Connection.Thing.ThingName}/defender/metrics/*/accepted');
    for (const r of resources) expect(r, r).not.toMatch(/[+#]/);

    const allows = (thing: string, op: string, res: string) => clientDeviceAllows(auth, thing, op, res);
    expect(allows('sensor-7', 'mqtt:connect', 'mqtt:clientId:sensor-7')).toBe(true);
    expect(allows('sensor-7', 'mqtt:connect', 'mqtt:clientId:sensor-8')).toBe(false);
    expect(allows('sensor-7', 'mqtt:publish', 'mqtt:topic:$aws/things/sensor-7/defender/metrics/json')).toBe(true);
    expect(allows('sensor-7', 'mqtt:publish', 'mqtt:topic:$aws/things/sensor-7/defender/metrics/cbor')).toBe(true);
    // Not another device's reports, not an answer to itself, not anything else.
    expect(allows('sensor-7', 'mqtt:publish', 'mqtt:topic:$aws/things/sensor-8/defender/metrics/json')).toBe(false);
    expect(allows('sensor-7', 'mqtt:publish', 'mqtt:topic:$aws/things/sensor-7/defender/metrics/json/accepted')).toBe(false);
    expect(allows('sensor-7', 'mqtt:subscribe', 'mqtt:topicfilter:$aws/things/sensor-7/defender/metrics/+/accepted')).toBe(true);
    expect(allows('sensor-7', 'mqtt:subscribe', 'mqtt:topicfilter:$aws/things/sensor-7/defender/metrics/json/rejected')).toBe(true);
    expect(allows('sensor-7', 'mqtt:subscribe', 'mqtt:topicfilter:$aws/things/+/defender/metrics/+/accepted')).toBe(false);
    expect(allows('sensor-7', 'mqtt:publish', 'mqtt:topic:devices/sensor-7/telemetry')).toBe(true);
    expect(allows('sensor-7', 'mqtt:publish', 'mqtt:topic:devices/sensor-8/telemetry')).toBe(false);
    expect(allows('intruder-1', 'mqtt:connect', 'mqtt:clientId:intruder-1')).toBe(false);
  });

  it('the bridge relays device reports to local pub/sub and the answers back, plus the counted device topics', () => {
    expect(merge(BRIDGE)).toEqual({
      mqttTopicMapping: {
        DefenderReportsToPubsub: { topic: '$aws/things/+/defender/metrics/+', source: 'LocalMqtt', target: 'Pubsub' },
        DefenderAcceptedToLocalMqtt: { topic: '$aws/things/+/defender/metrics/+/accepted', source: 'Pubsub', target: 'LocalMqtt' },
        DefenderRejectedToLocalMqtt: { topic: '$aws/things/+/defender/metrics/+/rejected', source: 'Pubsub', target: 'LocalMqtt' },
        CountedMessages1ToPubsub: { topic: 'devices/+/telemetry', source: 'LocalMqtt', target: 'Pubsub' },
      },
    });
    expect(merge(MOQUETTE)).toEqual({ moquette: { ssl_port: 8883 } });
    expect(merge(IP_DETECTOR)).toEqual({ defaultPort: 8883 });
  });
});

describe('IoT policies', () => {
  const policyDoc = (name: string) => {
    const p = Object.values(resourcesOf(template, 'AWS::IoT::Policy')).find((x) => x.Properties.PolicyName === name)!;
    const doc = p.Properties.PolicyDocument as { Statement: Array<{ Effect: string; Action: string[]; Resource: unknown[] }> };
    return {
      Statement: doc.Statement.map((s) => ({
        ...s,
        Resource: s.Resource.map((r) =>
          flat(r)
            .replace('arn:<AWS::Partition>:', 'arn:aws:')
            .replace(/<AWS::Region>:<AWS::AccountId>/, 'eu-west-1:123456789012'),
        ),
      })),
    };
  };
  const iot = (r: string) => `arn:aws:iot:eu-west-1:123456789012:${r}`;

  it("core policy: the gateways' own connection and Greengrass topics, Defender topics for them and their devices, nothing for other things", () => {
    const core = policyDoc('TestFleet-core');
    const ok = (a: string, r: string) => iotPolicyAllows(core, a, r);
    expect(ok('iot:Connect', iot('client/gw-17'))).toBe(true);
    expect(ok('iot:Connect', iot('client/gw-17#2'))).toBe(true);
    expect(ok('iot:Connect', iot('client/sensor-1'))).toBe(false);
    expect(ok('iot:Publish', iot('topic/$aws/things/gw-17/defender/metrics/json'))).toBe(true);
    expect(ok('iot:Publish', iot('topic/$aws/things/sensor-3/defender/metrics/cbor'))).toBe(true);
    expect(ok('iot:Publish', iot('topic/$aws/things/printer-3/defender/metrics/json'))).toBe(false);
    expect(ok('iot:Publish', iot('topic/$aws/things/gw-17/defender/metrics/json/accepted'))).toBe(false);
    expect(ok('iot:Publish', iot('topic/defender-edge/sensor-3/violations'))).toBe(true);
    expect(ok('iot:Publish', iot('topic/defender-edge/gw-17/heartbeat'))).toBe(true);
    expect(ok('iot:Publish', iot('topic/defender-edge/sensor-3/heartbeat'))).toBe(false);
    expect(ok('iot:Subscribe', iot('topicfilter/$aws/things/gw-17/defender/metrics/+/accepted'))).toBe(true);
    expect(ok('iot:Subscribe', iot('topicfilter/$aws/things/+/defender/metrics/+/rejected'))).toBe(true);
    expect(ok('iot:Subscribe', iot('topicfilter/$aws/things/+/defender/metrics/+/accepted'))).toBe(false);
    expect(ok('iot:Subscribe', iot('topicfilter/#'))).toBe(false);
    // Operators' commands: the gateway subscribes and answers; it may never publish a command itself.
    expect(ok('iot:Subscribe', iot('topicfilter/defender-edge/gw-17/commands'))).toBe(true);
    expect(ok('iot:Receive', iot('topic/defender-edge/gw-17/commands'))).toBe(true);
    expect(ok('iot:Publish', iot('topic/defender-edge/gw-17/commands/accepted'))).toBe(true);
    expect(ok('iot:Publish', iot('topic/defender-edge/gw-17/commands/rejected'))).toBe(true);
    expect(ok('iot:Publish', iot('topic/defender-edge/gw-17/commands'))).toBe(false);
    expect(ok('iot:Publish', iot('topic/defender-edge/gw-17/commands/extra'))).toBe(false);
    expect(ok('iot:Subscribe', iot('topicfilter/defender-edge/sensor-3/commands'))).toBe(false);
    expect(ok('iot:Publish', iot('topic/defender-edge/sensor-3/commands/accepted'))).toBe(false);
    expect(ok('iot:Receive', iot('topic/$aws/things/sensor-3/defender/metrics/json/rejected'))).toBe(true);
    expect(ok('iot:Receive', iot('topic/$aws/things/sensor-3/defender/metrics/json/accepted'))).toBe(false);
    expect(ok('iot:AssumeRoleWithCertificate', iot('rolealias/GreengrassV2TokenExchangeRoleAlias'))).toBe(true);
    expect(ok('greengrass:VerifyClientDeviceIoTCertificateAssociation', iot('thing/sensor-3'))).toBe(true);
    expect(ok('greengrass:VerifyClientDeviceIoTCertificateAssociation', iot('thing/gw-2'))).toBe(false);
    // Connectivity info is authorized on the core's thing ARN (the IP detector updates it, client device auth reads it).
    expect(ok('greengrass:UpdateConnectivityInfo', iot('thing/gw-17'))).toBe(true);
    expect(ok('greengrass:GetConnectivityInfo', iot('thing/gw-17'))).toBe(true);
    expect(ok('greengrass:UpdateConnectivityInfo', iot('thing/sensor-3'))).toBe(false);
    // Greengrass does not substitute thing policy variables in core-device policies.
    expect(JSON.stringify(core)).not.toContain('${iot:');
  });

  it('device policy: discovery of their gateway only; both policies attached to the thing groups', () => {
    const device = policyDoc('TestFleet-device');
    expect(device.Statement).toEqual([{ Effect: 'Allow', Action: ['greengrass:Discover'], Resource: [iot('thing/sensor-*')] }]);
    const attachments = Object.values(resourcesOf(template, 'Custom::AWS')).map((c) => flat(c.Properties.Create));
    expect(attachments).toHaveLength(2);
    expect(attachments.join('\n')).toContain('thinggroup/test-gateways');
    expect(attachments.join('\n')).toContain('thinggroup/test-sensors');
    expect(attachments.join('\n')).toContain('"action":"attachPolicy"');
  });

  it('a token exchange role that can read only the artifact buckets, when asked to create one', () => {
    const t = synth(
      testFleet((f) => (f.tokenExchange = { roleAliasName: 'FleetTes', create: { artifactBucketNames: ['my-artifacts'] } })),
    ).template;
    t.hasResourceProperties('AWS::IoT::RoleAlias', { RoleAlias: 'FleetTes', CredentialDurationSeconds: 3600 });
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: 'credentials.iot.amazonaws.com' } }] },
    });
    const policies = Object.values(resourcesOf(t, 'AWS::IAM::Policy')).filter((p) => JSON.stringify(p).includes('s3:GetObject'));
    expect(policies).toHaveLength(1);
    expect(flat((policies[0]!.Properties.PolicyDocument as { Statement: Array<{ Resource: unknown }> }).Statement[0]!.Resource)).toBe(
      'arn:<AWS::Partition>:s3:::my-artifacts/*',
    );
    expect(Object.keys(resourcesOf(template, 'AWS::IoT::RoleAlias'))).toHaveLength(0);
  });
});
