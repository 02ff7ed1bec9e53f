// One e-mail per violation id. An IoT rule cannot remember what it already sent, and the agent delivers at
// least once (QoS 1 from an on-disk outbox that replays after a reconnect), so the alerts rule writes each
// unsuppressed in-alarm violation into a DynamoDB table keyed by violationId (the DynamoDBv2 rule action
// is a PutItem: a repeat overwrites the same item). The table's stream reports a first write as INSERT and
// a repeat as MODIFY; a Lambda event filter passes only INSERTs, and the function publishes one message to
// an SNS topic with the e-mail subscriptions. Nothing runs while nothing happens: on-demand table, no
// provisioned capacity, Lambda stream reads are free, and filtered-out repeats are not invoked.
// (An SNS FIFO topic with the violation id as deduplication id was the other way: FIFO topics deliver only
// to SQS, not e-mail, and deduplicate for five minutes only.)
import { readFileSync } from 'node:fs';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { FleetSettings } from './fleetConfig.ts';

export const NOTIFY_SOURCE = new URL('../lambda/notify.cjs', import.meta.url);

export class ViolationAlerts extends Construct {
  readonly table: dynamodb.Table;
  readonly topic: sns.Topic;
  readonly deliveryFailures: sqs.Queue;
  readonly notify: lambda.Function;

  constructor(scope: Construct, id: string, s: FleetSettings) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'SeenViolations', {
      partitionKey: { name: 'violationId', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      stream: dynamodb.StreamViewType.NEW_IMAGE,
      // Only dedupe entries live here; tearing the stack down should not leave it behind.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.topic = new sns.Topic(this, 'ViolationAlertsTopic', { displayName: `${s.name} violations` });
    for (const email of s.alerts.emails) this.topic.addSubscription(new subscriptions.EmailSubscription(email));

    this.deliveryFailures = new sqs.Queue(this, 'AlertDeliveryFailures', { retentionPeriod: Duration.days(14) });

    this.notify = new lambda.Function(this, 'Notify', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline(readFileSync(NOTIFY_SOURCE, 'utf8')),
      memorySize: 128,
      timeout: Duration.seconds(30),
      environment: { ALERT_TOPIC_ARN: this.topic.topicArn },
      logGroup: new logs.LogGroup(this, 'NotifyLogs', {
        retention: s.monitoring.logRetentionDays as logs.RetentionDays,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      description: 'defender-edge: one e-mail per new violation (INSERTs of the dedupe table)',
    });
    this.topic.grantPublish(this.notify);
    this.notify.addEventSource(
      new DynamoEventSource(this.table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 10,
        retryAttempts: 5,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.deliveryFailures),
        filters: [lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.isEqual('INSERT') })],
      }),
    );
  }
}
