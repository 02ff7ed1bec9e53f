// The IoT rules' SQL and the substitution templates of their actions, as data: the constructs turn them
// into CfnTopicRules and the tests evaluate them against the records the agent really publishes
// (test/iotSql.ts documents the subset of AWS IoT SQL used here). Pure: no CDK.
//
// What the agent publishes (src/agent/violationPublisher.ts, src/agent/health.ts):
//   defender-edge/{thing}/violations  {record:'violation', recordId, gateway, violationId, thingName, behavior,
//                                      metric, event:'in-alarm'|'alarm-cleared'|'alarm-invalidated', suppressAlerts, …}
//                                     {record:'action', recordId, gateway, outcome, type, dryRun,
//                                      violation:{violationId, thingName, behavior, …}, …}
//   recordId is the records' de-duplication key (`<violationId>:<event>` for violations, a UUID for actions);
//   the alerts rule keys its table by violationId, which for in-alarm records is the same thing.
//   defender-edge/{gateway}/heartbeat the health record {t, thingName, rssBytes, outboxDepth, mode, …} (no `record` field)

/** Topic filters of the rules (the agent's default cloud topics with `+` for the thing). */
export const VIOLATIONS_TOPIC_FILTER = 'defender-edge/+/violations';
export const HEARTBEAT_TOPIC_FILTER = 'defender-edge/+/heartbeat';

/**
 * Alerts: a new violation whose behavior does not suppress alerts. The agent always writes `suppressAlerts`
 * as a boolean on violation records (the evaluator copies the behavior's, default false), so
 * `suppressAlerts = false` both respects it and leaves out anything that is not one of our records.
 * `expiresAt` (epoch seconds) is the DynamoDB TTL of the dedupe entry.
 */
export function alertSql(dedupeDays: number): string {
  return (
    `SELECT *, floor(timestamp() / 1000) + ${dedupeDays * 86_400} AS expiresAt FROM '${VIOLATIONS_TOPIC_FILTER}' ` +
    `WHERE record = 'violation' AND event = 'in-alarm' AND suppressAlerts = false`
  );
}

/** Every violation record: counted per event type, and logged (the "violations now in alarm" view). */
export const VIOLATION_EVENTS_SQL = `SELECT * FROM '${VIOLATIONS_TOPIC_FILTER}' WHERE record = 'violation'`;

/** New violations, counted per offending thing and per behavior. */
export const NEW_VIOLATIONS_SQL = `SELECT * FROM '${VIOLATIONS_TOPIC_FILTER}' WHERE record = 'violation' AND event = 'in-alarm'`;

/** Enforcement actions, counted per outcome, per action type and per offending thing; logged. */
export const ACTIONS_SQL = `SELECT * FROM '${VIOLATIONS_TOPIC_FILTER}' WHERE record = 'action'`;

/** Heartbeats: the gateway is the topic's second level (its health record has no `record` field). */
export const HEARTBEAT_SQL = `SELECT *, topic(2) AS gateway FROM '${HEARTBEAT_TOPIC_FILTER}'`;

/**
 * Heartbeats of the gateways watched one by one. A metric that receives data every hour is billed the full
 * month, so per-gateway heartbeat metrics are kept to the gateways that have their own alarm; the others
 * are seen in the fleet count and the heartbeat log.
 */
export function watchedHeartbeatSql(gateways: readonly string[]): string {
  return `${HEARTBEAT_SQL} WHERE ${gateways.map((g) => `topic(2) = '${g}'`).join(' OR ')}`;
}

export interface MetricTemplate {
  /** namespace suffix under the fleet namespace ('' = the namespace itself) */
  namespace: string;
  /** metric name: a substitution template evaluated against the incoming payload (not the SELECT's aliases) */
  name: string;
}

/** The CloudWatch metrics each rule writes (value 1, unit Count, one data point per record). */
export const METRICS = {
  violationEvents: [{ namespace: 'Violations', name: '${event}' }],
  newViolations: [
    { namespace: 'NewViolationsByThing', name: '${thingName}' },
    { namespace: 'NewViolationsByBehavior', name: '${behavior}' },
  ],
  actions: [
    { namespace: 'ActionsByOutcome', name: '${outcome}' },
    { namespace: 'ActionsByType', name: '${type}' },
    { namespace: 'ActionsByThing', name: '${violation.thingName}' },
  ],
  heartbeats: [{ namespace: '', name: 'Heartbeats' }],
  watchedHeartbeats: [{ namespace: 'Heartbeats', name: '${topic(2)}' }],
} satisfies Record<string, MetricTemplate[]>;

/** Full namespace of a metric template. */
export function metricNamespace(fleetNamespace: string, m: MetricTemplate): string {
  return m.namespace === '' ? fleetNamespace : `${fleetNamespace}/${m.namespace}`;
}
