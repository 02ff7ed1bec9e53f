// What the Detect console showed, for accounts that cannot have it: a dashboard of the fleet's violations
// over time, the top offending things and behaviors, actions by outcome, which violations are in alarm now
// and which gateways stopped sending heartbeats; and alarms on it, sent to an operations SNS topic.
//
// The rule's cloudwatchMetric action cannot set dimensions, so per-thing and per-behavior counts are metric
// names in their own namespaces; the graphs find them with SEARCH over the namespace and rank them with SORT
// (CloudWatch metric math), which alarms cannot use: alarms are on fixed metrics.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { heartbeatSeconds } from './componentConfigs.ts';
import type { FleetSettings } from './fleetConfig.ts';
import type { ViolationAlerts } from './violationAlerts.ts';
import type { ViolationRules } from './violationRules.ts';

const FIVE_MINUTES = Duration.minutes(5);

/** Logs Insights: the violations whose latest record is in-alarm, newest first. */
export const IN_ALARM_QUERY = [
  "filter record = 'violation'",
  'stats latest(event) as state, latest(behavior) as behavior, latest(thingName) as thing, latest(gateway) as gw, max(t) as since by violationId',
  "filter state = 'in-alarm'",
  'sort since desc',
  'limit 100',
];

/** Logs Insights: every gateway by its last heartbeat, oldest first (the ones that stopped are on top). */
export const LAST_HEARTBEAT_QUERY = [
  'stats max(@timestamp) as lastHeartbeat, latest(outboxDepth) as outboxDepth, latest(mode) as mode, latest(shedding) as shedding by thingName',
  'sort lastHeartbeat asc',
  'limit 200',
];

/** Logs Insights: the latest enforcement actions. */
export const ACTIONS_QUERY = [
  "filter record = 'action'",
  'fields @timestamp, violation.thingName as thing, violation.behavior as behavior, type, outcome, dryRun, reason',
  'sort @timestamp desc',
  'limit 50',
];

function search(namespace: string, statistic: string, label: string, top?: number): cloudwatch.MathExpression {
  const s = `SEARCH('{"${namespace}"}', '${statistic}', 300)`;
  return new cloudwatch.MathExpression({
    expression: top === undefined ? s : `SORT(${s}, SUM, DESC, ${top})`,
    usingMetrics: {},
    label,
    period: FIVE_MINUTES,
  });
}

export class FleetDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly opsTopic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, s: FleetSettings, rules: ViolationRules, alerts: ViolationAlerts) {
    super(scope, id);
    const ns = s.monitoring.namespace;
    this.opsTopic = new sns.Topic(this, 'OperationsAlarms', { displayName: `${s.name} alarms` });
    for (const email of s.alerts.emails) this.opsTopic.addSubscription(new subscriptions.EmailSubscription(email));
    const notify = new actions.SnsAction(this.opsTopic);
    const alarm = (aid: string, props: cloudwatch.AlarmProps): cloudwatch.Alarm => {
      const a = new cloudwatch.Alarm(this, aid, props);
      a.addAlarmAction(notify);
      this.alarms.push(a);
      return a;
    };
    const count = (namespace: string, metricName: string, statistic = 'Sum'): cloudwatch.Metric =>
      new cloudwatch.Metric({ namespace, metricName, statistic, period: FIVE_MINUTES });

    const newViolations = count(`${ns}/Violations`, 'in-alarm');
    alarm('ViolationsHigh', {
      alarmDescription: `More than ${s.monitoring.violationsAlarmThreshold - 1} new violations across the fleet in 5 minutes`,
      metric: newViolations,
      threshold: s.monitoring.violationsAlarmThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm('EnforcementFailures', {
      alarmDescription: 'An enforcement action failed on a gateway (outcome failed)',
      metric: count(`${ns}/ActionsByOutcome`, 'failed'),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const ruleErrorCount = new logs.MetricFilter(this, 'RuleErrorsFilter', {
      logGroup: rules.ruleErrors,
      filterPattern: logs.FilterPattern.allEvents(),
      metricNamespace: ns,
      metricName: 'RuleActionErrors',
      metricValue: '1',
    }).metric({ statistic: 'Sum', period: FIVE_MINUTES });
    alarm('RuleActionErrors', {
      alarmDescription: `An IoT rule action failed; the failed message is in ${rules.ruleErrors.logGroupName}`,
      metric: ruleErrorCount,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm('AlertDeliveryFailures', {
      alarmDescription: 'Violation e-mails that could not be published (their stream records are in the dead-letter queue)',
      metric: alerts.deliveryFailures.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: 'Maximum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // Heartbeats: the agent sends one per heartbeat.intervalSeconds while connected (QoS 0, not queued).
    const hb = heartbeatSeconds(s);
    const perFiveMinutes = Math.max(1, Math.floor(300 / hb.intervalSeconds));
    if (s.gateways.expectedCount !== undefined) {
      // Fewer than 90 % of the expected heartbeats in 5 minutes: gateways (or their connection) are gone.
      const threshold = Math.max(1, Math.floor(s.gateways.expectedCount * perFiveMinutes * 0.9));
      alarm('HeartbeatsMissing', {
        alarmDescription: `Fewer than ${threshold} heartbeats in 5 minutes from ${s.gateways.expectedCount} expected gateways`,
        metric: count(ns, 'Heartbeats', 'SampleCount'),
        threshold,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 2,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });
    }
    s.gateways.watch.forEach((gw) => {
      alarm(`HeartbeatStopped-${gw}`, {
        alarmDescription: `Gateway ${gw} sent no heartbeat for 10 minutes`,
        metric: count(`${ns}/Heartbeats`, gw, 'SampleCount'),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 2,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });
    });

    const violationLogs = [rules.violationLogs];
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${s.name}-fleet`,
      defaultInterval: Duration.hours(24),
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Fleet violations (per 5 minutes)',
            width: 12,
            left: ['in-alarm', 'alarm-cleared', 'alarm-invalidated'].map((e) => count(`${ns}/Violations`, e).with({ label: e })),
          }),
          new cloudwatch.GraphWidget({
            title: 'Enforcement actions by outcome',
            width: 12,
            left: [search(`${ns}/ActionsByOutcome`, 'Sum', '')],
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Top 10 offending things (new violations)',
            width: 12,
            view: cloudwatch.GraphWidgetView.BAR,
            left: [search(`${ns}/NewViolationsByThing`, 'Sum', '', 10)],
          }),
          new cloudwatch.GraphWidget({
            title: 'Top 10 behaviors (new violations)',
            width: 12,
            view: cloudwatch.GraphWidgetView.BAR,
            left: [search(`${ns}/NewViolationsByBehavior`, 'Sum', '', 10)],
          }),
        ],
        [
          new cloudwatch.LogQueryWidget({
            title: 'Violations in alarm now (latest record per violation id)',
            width: 24,
            height: 8,
            logGroupNames: violationLogs.map((g) => g.logGroupName),
            queryLines: IN_ALARM_QUERY,
          }),
        ],
        [
          ...(rules.heartbeatLogs
            ? [
                new cloudwatch.LogQueryWidget({
                  title: 'Gateways by last heartbeat (oldest first: the ones that stopped are on top)',
                  width: 12,
                  height: 8,
                  logGroupNames: [rules.heartbeatLogs.logGroupName],
                  queryLines: LAST_HEARTBEAT_QUERY,
                }),
              ]
            : []),
          new cloudwatch.GraphWidget({
            title: `Heartbeats (fleet, and each watched gateway: expected ${perFiveMinutes} per 5 minutes)`,
            width: rules.heartbeatLogs ? 12 : 24,
            left: [count(ns, 'Heartbeats', 'SampleCount').with({ label: 'fleet' })],
            right: s.gateways.watch.length > 0 ? [search(`${ns}/Heartbeats`, 'SampleCount', '')] : [],
          }),
        ],
        [
          new cloudwatch.LogQueryWidget({
            title: 'Latest enforcement actions',
            width: 16,
            height: 6,
            logGroupNames: violationLogs.map((g) => g.logGroupName),
            queryLines: ACTIONS_QUERY,
          }),
          new cloudwatch.AlarmStatusWidget({ title: 'Alarms', width: 8, height: 6, alarms: this.alarms }),
        ],
      ],
    });
  }
}
