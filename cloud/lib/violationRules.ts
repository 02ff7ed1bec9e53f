// The IoT rules on the agent's cloud topics: alerts (into the dedupe table), CloudWatch metrics per event,
// thing, behavior and action outcome, and log groups that keep the records (the "what is in alarm now"
// and "when did each gateway last report" views). Every rule has an error action to the rule-errors log
// group, so a failed action (throttled metric, missing permission, table gone) is kept and alarmed on.
import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { FleetSettings } from './fleetConfig.ts';
import {
  ACTIONS_SQL,
  alertSql,
  HEARTBEAT_SQL,
  METRICS,
  type MetricTemplate,
  metricNamespace,
  NEW_VIOLATIONS_SQL,
  VIOLATION_EVENTS_SQL,
  watchedHeartbeatSql,
} from './rules.ts';
import type { ViolationAlerts } from './violationAlerts.ts';

export const SQL_VERSION = '2016-03-23';

/** IoT rule names: letters, digits and underscores. */
export function ruleName(fleet: string, rule: string): string {
  return `${fleet.replace(/[^A-Za-z0-9]/g, '_')}_${rule}`;
}

export class ViolationRules extends Construct {
  readonly violationLogs: logs.LogGroup;
  readonly heartbeatLogs?: logs.LogGroup;
  readonly ruleErrors: logs.LogGroup;
  readonly rules: Record<string, iot.CfnTopicRule> = {};

  constructor(scope: Construct, id: string, s: FleetSettings, alerts: ViolationAlerts) {
    super(scope, id);
    const retention = s.monitoring.logRetentionDays as logs.RetentionDays;
    const logGroup = (lid: string, suffix: string): logs.LogGroup =>
      new logs.LogGroup(this, lid, { logGroupName: `/defender-edge/${s.name}/${suffix}`, retention, removalPolicy: RemovalPolicy.DESTROY });
    this.violationLogs = logGroup('ViolationLogs', 'violations');
    this.ruleErrors = logGroup('RuleErrors', 'rule-errors');
    if (s.monitoring.heartbeatLogs) this.heartbeatLogs = logGroup('HeartbeatLogs', 'heartbeats');

    // One role for every action: IoT assumes it to put metrics (only under our namespace), write the
    // dedupe table and the log groups.
    const role = new iam.Role(this, 'RuleActionsRole', {
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com'),
      description: 'defender-edge IoT rule actions',
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringLike: { 'cloudwatch:namespace': [s.monitoring.namespace, `${s.monitoring.namespace}/*`] } },
      }),
    );
    alerts.table.grant(role, 'dynamodb:PutItem');
    for (const g of [this.violationLogs, this.ruleErrors, this.heartbeatLogs]) {
      if (g) g.grant(role, 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams');
    }

    const metric = (m: MetricTemplate): iot.CfnTopicRule.ActionProperty => ({
      cloudwatchMetric: {
        metricNamespace: metricNamespace(s.monitoring.namespace, m),
        metricName: m.name,
        metricValue: '1',
        metricUnit: 'Count',
        roleArn: role.roleArn,
      },
    });
    const toLogs = (g: logs.LogGroup): iot.CfnTopicRule.ActionProperty => ({
      cloudwatchLogs: { logGroupName: g.logGroupName, roleArn: role.roleArn, batchMode: false },
    });
    const errorAction = toLogs(this.ruleErrors);
    const rule = (rid: string, name: string, description: string, sql: string, actions: iot.CfnTopicRule.ActionProperty[]): void => {
      this.rules[rid] = new iot.CfnTopicRule(this, rid, {
        ruleName: ruleName(s.name, name),
        topicRulePayload: { sql, awsIotSqlVersion: SQL_VERSION, description, ruleDisabled: false, actions, errorAction },
      });
    };

    rule(
      'Alerts',
      'alerts',
      'New unsuppressed violations into the dedupe table (one e-mail per violation id)',
      alertSql(s.alerts.dedupeDays),
      [{ dynamoDBv2: { putItem: { tableName: alerts.table.tableName }, roleArn: role.roleArn } }],
    );
    rule(
      'ViolationEvents',
      'violation_events',
      'Violation records: counted per event type, kept in the violations log group',
      VIOLATION_EVENTS_SQL,
      [...METRICS.violationEvents.map(metric), toLogs(this.violationLogs)],
    );
    rule(
      'NewViolations',
      'new_violations',
      'New violations counted per offending thing and per behavior',
      NEW_VIOLATIONS_SQL,
      METRICS.newViolations.map(metric),
    );
    rule('Actions', 'actions', 'Enforcement actions counted per outcome, type and thing, kept in the violations log group', ACTIONS_SQL, [
      ...METRICS.actions.map(metric),
      toLogs(this.violationLogs),
    ]);
    rule('Heartbeats', 'heartbeats', 'Gateway heartbeats counted across the fleet (and logged)', HEARTBEAT_SQL, [
      ...METRICS.heartbeats.map(metric),
      ...(this.heartbeatLogs ? [toLogs(this.heartbeatLogs)] : []),
    ]);
    if (s.gateways.watch.length > 0) {
      rule(
        'WatchedHeartbeats',
        'watched_heartbeats',
        'Heartbeats of the gateways with their own alarm, counted per gateway',
        watchedHeartbeatSql(s.gateways.watch),
        METRICS.watchedHeartbeats.map(metric),
      );
    }
  }
}
