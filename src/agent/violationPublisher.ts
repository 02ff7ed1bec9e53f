// Violations and enforcement actions leave the gateway, each action reported with its violation: every event
// goes to local pub/sub (for other components) and to IoT Core through the outbox (QoS 1, kept on disk while
// offline). Accounts without cloud Detect route `defender-edge/+/violations` with an IoT rule to SNS to get the
// e-mail alert back.
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
    const doc = { record: 'violation', gateway: this.o.gatewayThing, ...ev };
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
    // ActionRecord has its own `type` (the action type); the document's kind goes in `record`.
    this.send({ record: 'action', gateway: this.o.gatewayThing, ...record }, record.violation.thingName);
  }

  private send(doc: Record<string, unknown>, thing: string): void {
    const text = JSON.stringify(doc);
    this.o.ipc.publishToTopic(this.localTopic, doc).catch((err: unknown) => {
      this.counts.localPublishFailures++;
      this.log.debug({ err }, 'local violation publish failed');
    });
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
  }
}
