// `defender-edge explain`: one violation told from start to end — the behavior and its criterion, every
// datapoint of the window that crossed the threshold drawn against it as a terminal chart, the rails the
// action passed (or the one that refused it), the action, what the kernel showed, and how it ended.
// Pure: a journal entry and the audit records in, lines out.
import type { ActionRecord } from '../enforce/actionModel.ts';
import { describeOperator } from '../enforce/decisionText.ts';
import { compareNumbers } from '../localrules/criterion.ts';
import type { ViolationEvidence } from '../localrules/evaluator.ts';
import { duration, isoSeconds, metricValue, num, offender, target } from './textFormat.ts';
import type { JournalEntry } from './violationJournal.ts';

export interface ExplainOptions {
  /** bar width in cells */
  width?: number;
  /** most chart rows; more datapoints are summed into fewer rows */
  rows?: number;
  /** plain ASCII instead of Unicode block characters */
  ascii?: boolean;
}

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A bar of `cells` (fractional) cells, with a threshold mark at column `mark` (if inside the width). */
export function bar(cells: number, width: number, mark: number | undefined, ascii: boolean): string {
  const chars: string[] = [];
  const full = Math.floor(cells);
  for (let i = 0; i < width; i++) {
    if (i < full) chars.push(ascii ? '#' : '█');
    else if (i === full && !ascii) chars.push(EIGHTHS[Math.round((cells - full) * 8) % 8] || ' ');
    else chars.push(' ');
  }
  if (mark !== undefined && mark >= 0 && mark <= width) {
    // The mark overwrites its cell; at the right edge it goes one past the bar.
    if (mark === width) chars.push(ascii ? '|' : '┃');
    else chars[mark] = ascii ? '|' : '┃';
  }
  return chars.join('').trimEnd();
}

function numericThreshold(e: JournalEntry): number | undefined {
  const t = e.threshold;
  if (t === undefined) return undefined;
  if ('count' in t) return t.count;
  if ('number' in t) return t.number;
  return undefined;
}

/** Sums neighbouring points into at most `rows` (running totals at kept rows stay exact). */
function mergeRows(points: Array<[number, number]>, rows: number, judged: ViolationEvidence['judged']): Array<[number, number]> {
  if (points.length <= rows) return points;
  const by = Math.ceil(points.length / rows);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < points.length; i += by) {
    const chunk = points.slice(i, i + by);
    const v = judged === 'window-sum' ? chunk.reduce((a, [, x]) => a + x, 0) : Math.max(...chunk.map(([, x]) => x));
    out.push([chunk.at(-1)![0], v]);
  }
  return out;
}

export function renderChart(e: JournalEntry, ev: ViolationEvidence, o: ExplainOptions = {}): string[] {
  const width = o.width ?? 40;
  const ascii = o.ascii ?? false;
  const threshold = numericThreshold(e);
  const op = e.comparisonOperator;
  const rows = mergeRows(ev.points, o.rows ?? 30, ev.judged);
  const end = rows.at(-1)?.[0] ?? 0;
  let running = 0;
  const series = rows.map(([t, v]) => {
    running += v;
    return { t, v, judgedValue: ev.judged === 'window-sum' ? running : v };
  });
  const top = Math.max(threshold ?? 0, ...series.map((s) => s.judgedValue), 1);
  const scale = width / top;
  const mark = threshold === undefined ? undefined : Math.round(threshold * scale);
  const verdict = (x: number): boolean | undefined =>
    threshold === undefined || op === undefined ? undefined : !compareNumbers(op as never, x, threshold);
  const out: string[] = [];
  const windowText = ev.windowMs === undefined ? '' : ` over ${duration(ev.windowMs)}`;
  if (ev.judged === 'window-sum') {
    out.push(
      `window when it went in-alarm${windowText}: ${ev.points.length} datapoints${ev.mergedBy === undefined ? '' : ` (each summing up to ${ev.mergedBy} samples)`}` +
        `${rows.length < ev.points.length ? `, drawn as ${rows.length} rows` : ''}; bar = running total, ${ascii ? '|' : '┃'} = threshold ${threshold === undefined ? '?' : num(threshold)}`,
    );
  } else {
    out.push(
      `datapoints judged one by one (consecutiveDatapointsToAlarm ${ev.consecutiveDatapointsToAlarm}); ${ascii ? '|' : '┃'} = threshold ${threshold === undefined ? '?' : num(threshold)}`,
    );
  }
  const offset = (t: number) => {
    const x = (t - end) / 1000;
    return `${Math.abs(x) < 0.05 ? '0.0' : x.toFixed(1)}s`;
  };
  const tw = Math.max(...series.map((s) => offset(s.t).length));
  const vw = Math.max(...series.map((s) => num(s.v).length)) + 1;
  const jw = Math.max(...series.map((s) => num(s.judgedValue).length));
  let crossed = false;
  for (const s of series) {
    const bad = verdict(s.judgedValue);
    let note = '';
    if (ev.judged === 'window-sum') {
      if (bad === true && !crossed) {
        crossed = true;
        note = ascii ? '  <- crosses' : '  ◀ crosses';
      }
    } else if (bad !== undefined) note = bad ? '  violating' : '  normal';
    const left =
      ev.judged === 'window-sum'
        ? `${offset(s.t).padStart(tw)}  ${`+${num(s.v)}`.padStart(vw)}  ${num(s.judgedValue).padStart(jw)}`
        : `${offset(s.t).padStart(tw)}  ${num(s.judgedValue).padStart(jw)}`;
    out.push(`  ${left}  ${bar(s.judgedValue * scale, width, mark, ascii)}${note}`.trimEnd());
  }
  const last = series.at(-1);
  if (last !== undefined && threshold !== undefined && op !== undefined) {
    const bad = verdict(last.judgedValue);
    out.push(
      `  judged: ${num(last.judgedValue)} ${bad ? 'is not' : 'is'} ${op} ${num(threshold)}${bad ? ' → violating' : ' → normal'}` +
        (ev.consecutiveDatapointsToAlarm > 1 ? `; in-alarm after ${ev.consecutiveDatapointsToAlarm} violating datapoints in a row` : ''),
    );
  }
  return out;
}

function actionLine(r: ActionRecord): string {
  const when = isoSeconds(r.t);
  const what = `${r.outcome}${r.reason === undefined ? '' : ` (${r.reason})`}`;
  // would-apply / would-revert say dry-run already
  const dry = r.dryRun && !r.outcome.startsWith('would-') ? ' [dry-run]' : '';
  const parts = [`${when}  ${what}: ${r.type}${dry} on ${target(r.target)}`];
  if (r.ttlSeconds !== undefined) parts.push(`ttl ${duration(r.ttlSeconds * 1000)}`);
  return parts.join(', ');
}

export function renderExplain(e: JournalEntry, actions: ActionRecord[], now: number, o: ExplainOptions = {}): string[] {
  const out: string[] = [];
  const first = e.events[0];
  const last = e.events.at(-1);
  const state = last?.event ?? 'in-alarm';
  out.push(
    `violation ${e.violationId}: ${state === 'in-alarm' ? `in alarm since ${first === undefined ? '?' : isoSeconds(first.t)} (${duration(now - (first?.t ?? now))})` : `${state} at ${isoSeconds(last!.t)}`}`,
  );
  const windowText = e.evidence?.windowMs === undefined ? '' : ` over ${duration(e.evidence.windowMs)}`;
  out.push(
    `  behavior:  ${e.behavior} — ${e.metric}: normal while ${e.comparisonOperator ?? '?'} ${metricValue(e.threshold)}${windowText}`,
  );
  out.push(`  thing:     ${e.thingName}; offender: ${offender(e.offender)}`);
  out.push(
    `  events:    ${e.events.map((x) => `${x.event} ${isoSeconds(x.t)}${x.value === undefined ? '' : ` (value ${metricValue(x.value)})`}`).join('  ·  ')}`,
  );
  out.push('');
  if (e.evidence !== undefined) out.push(...renderChart(e, e.evidence, o));
  else
    out.push(
      `value ${metricValue(e.events.find((x) => x.event === 'in-alarm')?.value)} against ${e.comparisonOperator ?? '?'} ${metricValue(e.threshold)} (no numeric window to draw)`,
    );
  out.push('');
  const spec = e.action;
  if (spec === undefined || spec.type === 'none') {
    out.push('action:    none (alert only: the behavior has no edge.action)');
    return out;
  }
  out.push(
    `action:    ${spec.type}${spec.ttlSeconds === undefined ? '' : `, ttl ${duration(spec.ttlSeconds * 1000)}`}${spec.dryRun ? ', dry-run' : ''}${spec.revertOnClear ? ', reverted when cleared' : ''}`,
  );
  if (actions.length === 0) {
    out.push('  no action record in the audit log (not acted on yet, or the log rolled over)');
    return out;
  }
  const decisive = actions.find(
    (r) => r.outcome === 'applied' || r.outcome === 'would-apply' || r.outcome === 'refused' || r.outcome === 'failed',
  );
  if (decisive?.rails !== undefined) {
    out.push('rails:');
    for (const rail of decisive.rails) out.push(`  ✓ ${rail}`);
  } else if (decisive?.outcome === 'refused') {
    out.push('rails:');
    out.push(`  ✗ ${decisive.reason ?? 'refused'}: ${decisive.detail ?? ''}`);
  }
  out.push('what happened:');
  for (const r of actions) {
    out.push(`  ${actionLine(r)}`);
    if (r.detail !== undefined && r.outcome !== 'lifted') out.push(`      ${r.detail}`);
    if (r.readBack !== undefined) out.push(`      kernel: ${r.readBack.state} — ${r.readBack.observed}`);
    if (r.outcome === 'lifted') {
      out.push(
        `      by ${r.by === undefined ? 'an operator' : describeOperator(r.by)}${r.quietUntil === undefined ? '' : `; quiet until ${isoSeconds(r.quietUntil)}`}`,
      );
    }
  }
  return out;
}
