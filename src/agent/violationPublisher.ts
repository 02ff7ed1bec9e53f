// Violations and enforcement actions leave the gateway, each action reported with its violation: every event
// goes to IoT Core through the outbox (QoS 1, kept on disk while offline) and to local pub/sub (for other
// components). Accounts without cloud Detect route `defender-edge/+/violations` with an IoT rule to SNS to get
// the e-mail alert back.
//
// Every record carries `recordId`, THE key to drop a second delivery of it by: a violation record's is its
// violation id and event (`<violationId>:in-alarm`; each event happens once per violation), an action
// record's is the UUID the enforcer gave it (also in the audit log). A copy delivered again is the same bytes.
import { randomUUID } from 'node:crypto';
import type { ComponentConfig } from '../config/schema.ts';
import type { ActionRecord } from '../enforce/actionModel.ts';
import type { GreengrassIpcClient } from '../ipc/ipcClient.ts';
import type { Outbox } from '../ipc/outbox.ts';
import type { ViolationEvent } from '../localrules/contracts.ts';
import type { Logger } from '../log.ts';
import { thingNameProblem } from '../report/thingName.ts';

export interface ViolationPublisherOptions {
  ipc: Pick<GreengrassIpcClient, 'publishToTopic'>;
  outbox: Pick<Outbox, 'enqueue'>;
  gatewayThing: string;
  logger: Logger;
}

export interface ViolationStats {
  violations: number;
  inAlarm: number;
  cleared: number;
  invalidated: number;
  actions: number;
  localPublishFailures: number;
}

/** The de-duplication key of a violation record: one per violation and event, the same on every delivery. */
export function violationRecordId(ev: Pick<ViolationEvent, 'violationId' | 'event'>): string {
  return `${ev.violationId}:${ev.event}`;
}

/** A thing name usable as one topic level: the service's rules plus no MQTT separators or wildcards. */
export function topicSafeThing(thing: string): boolean {
  return thingNameProblem(thing) === null && !/[/+#]/.test(thing);
}

export class ViolationPublisher {
  private readonly o: ViolationPublisherOptions;
  private readonly log: Logger;
  private localTopic = '';
  private cloudTopic = '';
  private readonly counts: ViolationStats = { violations: 0, inAlarm: 0, cleared: 0, invalidated: 0, actions: 0, localPublishFailures: 0 };

  constructor(options: ViolationPublisherOptions) {
    this.o = options;
    this.log = options.logger.child({ module: 'violations' });
  }

  configure(config: ComponentConfig): void {
    this.localTopic = config.violations.localTopic;
    this.cloudTopic = config.violations.cloudTopic;
  }

  stats(): ViolationStats {
    return { ...this.counts };
  }

  /** The cloud topic for a thing; a thing name that cannot be a topic level falls back to the gateway's. */
  cloudTopicFor(thing: string): string {
    const level = topicSafeThing(thing) ? thing : this.o.gatewayThing;
    return this.cloudTopic.replaceAll('{thingName}', level);
  }

  publishViolation(ev: ViolationEvent): void {
    this.counts.violations++;
    if (ev.event === 'in-alarm') this.counts.inAlarm++;
    else if (ev.event === 'alarm-cleared') this.counts.cleared++;
    else this.counts.invalidated++;
    const doc = { record: 'violation', recordId: violationRecordId(ev), gateway: this.o.gatewayThing, ...ev };
    this.log.warn(
      {
        violationId: ev.violationId,
        thingName: ev.thingName,
        behavior: ev.behavior,
        event: ev.event,
        offender: ev.offender,
        value: ev.value,
      },
      `violation ${ev.event}`,
    );
    this.send(doc, ev.thingName);
  }

  publishAction(record: ActionRecord): void {
    this.counts.actions++;
    // ActionRecord has its own `type` (the action type); the document's kind goes in `record`. The enforcer
    // sets recordId on every record it emits; one made elsewhere gets its own here.
    const { recordId = randomUUID(), ...rest } = record;
    this.send({ record: 'action', recordId, gateway: this.o.gatewayThing, ...rest }, record.violation.thingName);
  }

  private send(doc: Record<string, unknown>, thing: string): void {
    const text = JSON.stringify(doc);
    // On disk first: a record another component saw locally is one the cloud will get.
    try {
      this.o.outbox.enqueue({
        kind: doc.record === 'action' ? 'action' : 'violation',
        topic: this.cloudTopicFor(thing),
        payload: text,
        encoding: 'utf8',
      });
    } catch (err) {
      this.log.error({ err }, 'could not queue a violation for the cloud');
    }
    this.o.ipc.publishToTopic(this.localTopic, doc).catch((err: unknown) => {
      this.counts.localPublishFailures++;
      this.log.debug({ err }, 'local violation publish failed');
    });
  }
}
