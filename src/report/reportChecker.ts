// checkReportMessage with the bookkeeping every caller needs: counts per outcome and one log line per
// rejection (thing, report id, each `path: message`). The emulator's Device Defender endpoint and the
// downstream-report forwarder each own one; `counters` feeds their metrics/heartbeat.
import type { Logger } from '../log.ts';
import { checkReportMessage, type ReportCheck, type ReportMessage } from './checkMessage.ts';

export interface ReportCheckCounters {
  accepted: number;
  rejected: number;
  notAReportTopic: number;
  /** accepted reports that carried data the service does not retain (warnings) */
  acceptedWithWarnings: number;
}

export class ReportChecker {
  readonly counters: ReportCheckCounters = { accepted: 0, rejected: 0, notAReportTopic: 0, acceptedWithWarnings: 0 };
  private readonly log: Logger;

  /** `logger` is the caller's module logger (e.g. root.child({ module: 'report' })). */
  constructor(logger: Logger) {
    this.log = logger;
  }

  check(message: ReportMessage): ReportCheck {
    const result = checkReportMessage(message);
    switch (result.status) {
      case 'ACCEPTED':
        this.counters.accepted += 1;
        if (result.warnings.length > 0) {
          this.counters.acceptedWithWarnings += 1;
          this.log.info(
            { thingName: result.thingName, reportId: result.response.reportId, warnings: result.warnings },
            'report accepted with data the service does not retain',
          );
        }
        break;
      case 'REJECTED':
        this.counters.rejected += 1;
        this.log.warn(
          { thingName: result.thingName, reportId: result.response.reportId, format: result.format, errors: result.errors },
          'report rejected',
        );
        break;
      case 'NOT_A_REPORT_TOPIC':
        this.counters.notAReportTopic += 1;
        this.log.warn(
          { topic: message.topic?.slice(0, 256), reason: result.error },
          'message on a topic that is not a Device Defender report topic',
        );
        break;
    }
    return result;
  }
}
