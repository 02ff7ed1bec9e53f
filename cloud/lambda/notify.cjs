// One e-mail per new violation. The alerts IoT rule puts each unsuppressed in-alarm violation into a
// DynamoDB table keyed by violationId; a repeated delivery of the same violation overwrites the item
// (a MODIFY), so only the first one is an INSERT, and the event source mapping passes only INSERTs here.
// CommonJS because CloudFormation writes inline code to index.js; the SNS client is the one the Lambda
// Node.js runtime ships (AWS SDK for JavaScript v3).
'use strict';

/** DynamoDB's attribute-value JSON (what a stream record carries) to plain values. */
function plain(av) {
  if (av === null || typeof av !== 'object') return undefined;
  if ('S' in av) return av.S;
  if ('N' in av) return Number(av.N);
  if ('BOOL' in av) return av.BOOL;
  if ('NULL' in av) return null;
  if ('M' in av) return Object.fromEntries(Object.entries(av.M).map(([k, v]) => [k, plain(v)]));
  if ('L' in av) return av.L.map(plain);
  if ('SS' in av) return av.SS;
  if ('NS' in av) return av.NS.map(Number);
  return undefined;
}

function unmarshall(image) {
  return plain({ M: image || {} });
}

const text = (v) => (v === undefined ? '-' : typeof v === 'string' ? v : JSON.stringify(v));

/** The e-mail for one violation record (as the agent published it, plus the rule's expiresAt). */
function formatAlert(v) {
  const subject = `defender-edge: ${text(v.behavior)} in alarm on ${text(v.thingName)}`.slice(0, 100);
  const o = v.offender || {};
  const offender = o.kind === 'process' ? `process ${o.comm} (pid ${o.pid})` : o.kind === 'device' ? `device ${o.thingName}` : text(o.kind);
  const action =
    v.action?.type && v.action.type !== 'none' ? `${v.action.type}${v.action.dryRun ? ' (dry run)' : ''}` : 'none (alert only)';
  const lines = [
    `Thing:       ${text(v.thingName)} (gateway ${text(v.gateway)})`,
    `Behavior:    ${text(v.behavior)} (${text(v.metric)})`,
    `Value:       ${text(v.value)} ${text(v.comparisonOperator)} ${text(v.threshold)} is false`,
    `Offender:    ${offender}`,
    `Action:      ${action}`,
    `Time:        ${typeof v.t === 'number' ? new Date(v.t).toISOString() : '-'}`,
    `Violation:   ${text(v.violationId)}`,
  ];
  return { subject, message: `${lines.join('\n')}\n` };
}

exports.unmarshall = unmarshall;
exports.formatAlert = formatAlert;

exports.handler = async (event) => {
  const { SNSClient, PublishCommand } = require('@aws-sdk/client-sns');
  const sns = new SNSClient({});
  const batchItemFailures = [];
  for (const record of event.Records || []) {
    if (record.eventName !== 'INSERT') continue;
    try {
      const { subject, message } = formatAlert(unmarshall(record.dynamodb.NewImage));
      await sns.send(new PublishCommand({ TopicArn: process.env.ALERT_TOPIC_ARN, Subject: subject, Message: message }));
    } catch (err) {
      console.error('alert not sent', record.dynamodb?.SequenceNumber, err);
      batchItemFailures.push({ itemIdentifier: record.dynamodb.SequenceNumber });
    }
  }
  return { batchItemFailures };
};
