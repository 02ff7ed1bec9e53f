// The demo's compact live view: one short line per thing that happens, prefixed with the time since the
// demo started. Pure formatting; the CLI wires it to the scenario's events.

import type { ActionRecord } from '../enforce/actionModel.ts';
import type { ViolationEvent } from '../localrules/contracts.ts';
import type { CastProcessView, ScenarioEvents } from './scenario.ts';
import type { CloudLine } from './summary.ts';

const count = (v: unknown): string =>
  typeof v === 'object' && v !== null && 'count' in v ? String((v as { count: unknown }).count) : JSON.stringify(v);

export function stamp(t: number, t0: number): string {
  return `+${((t - t0) / 1000).toFixed(1).padStart(5)}s`;
}

export function sampleLine(view: ScenarioEvents['sample'][0], t0: number, threshold = 10_000): string {
  const procs = view.processes.map(
    (p: CastProcessView) => `${p.role}[${p.pid}] +${p.bytesOut} B (${p.windowBytesOut}/${threshold} per 300 s)`,
  );
  return `${stamp(view.t, t0)}  sample  ${procs.length > 0 ? procs.join('  ') : 'no demo process seen yet'}  (${view.durationMs} ms)`;
}

export function violationLine(ev: ViolationEvent, t0: number): string {
  const who =
    ev.offender.kind === 'process'
      ? `pid ${ev.offender.pid} (comm ${ev.offender.comm})`
      : ev.offender.kind === 'device'
        ? `device ${ev.offender.thingName}`
        : 'the gateway';
  const measured = `${ev.metric} = ${count(ev.value)}, must be ${ev.comparisonOperator ?? '?'} ${count(ev.threshold)}`;
  return `${stamp(ev.t, t0)}  VIOLATION ${ev.behavior} ${ev.event}: ${who} — ${measured}`;
}

export function actionLine(r: ActionRecord, t0: number): string {
  const who =
    r.target?.kind === 'process'
      ? `pid ${r.target.pid} (${r.target.comm})`
      : r.violation.offender.kind === 'process'
        ? `pid ${r.violation.offender.pid}`
        : '';
  const what = r.dryRun ? `${r.type} [dry-run: nothing changed]` : r.type;
  return `${stamp(r.t, t0)}  ACTION ${what} ${r.outcome} ${who}${r.reason ? ` (${r.reason})` : ''}${r.detail ? ` — ${r.detail}` : ''}`;
}

export function cloudLine(line: CloudLine, t0: number, gatewayThing: string): string {
  let what = `${line.payload.length} bytes`;
  try {
    const doc = JSON.parse(line.payload) as {
      record?: string;
      behavior?: string;
      event?: string;
      type?: string;
      outcome?: string;
      header?: { report_id?: number };
    };
    if (doc.record === 'violation') what = `violation ${doc.behavior} ${doc.event}`;
    else if (doc.record === 'action') what = `action ${doc.type} ${doc.outcome}`;
    else if (doc.header?.report_id !== undefined)
      what = `Defender report ${doc.header.report_id}${line.topic.includes(`/${gatewayThing}/`) ? ' (gateway)' : ' (downstream device, forwarded)'}`;
  } catch {
    // binary (CBOR) or not JSON: the size says enough
  }
  return `${stamp(line.ts, t0)}  cloud ← ${line.topic}: ${what}`;
}
