// Small pure formatters shared by the console's text views.
import type { ActionTarget } from '../enforce/actionModel.ts';
import { describeTarget } from '../enforce/decisionText.ts';
import type { MetricValue, Offender } from '../localrules/contracts.ts';

/** 2026-12-06T12:00:01Z (UTC, to the second). */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** 1h 02m, 9m 58s, 42s, 0.8s. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const neg = ms < 0 ? '-' : '';
  const a = Math.abs(ms);
  if (a < 10_000) return `${neg}${(a / 1000).toFixed(1)}s`;
  const s = Math.round(a / 1000);
  if (s < 60) return `${neg}${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${neg}${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${neg}${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${neg}${Math.floor(h / 24)}d ${String(h % 24).padStart(2, '0')}h`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 2 ** 20) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 2 ** 30) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 2 ** 30).toFixed(2)} GiB`;
}

export function num(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toLocaleString('en-US', { maximumFractionDigits: 3 });
}

export function target(t: ActionTarget | undefined): string {
  return t === undefined ? '-' : describeTarget(t);
}

export function offender(o: Offender): string {
  switch (o.kind) {
    case 'host':
      return 'the gateway';
    case 'process':
      return `process pid ${o.pid} (${o.comm})${o.exe === undefined ? '' : ` ${o.exe}`}`;
    case 'device':
      return `device ${o.thingName}${o.addresses.length > 0 ? ` (${o.addresses.join(', ')})` : ''}${o.interface === undefined ? '' : ` on ${o.interface}`}`;
  }
}

export function metricValue(v: MetricValue | undefined): string {
  if (v === undefined) return '-';
  if ('count' in v) return num(v.count);
  if ('number' in v) return num(v.number);
  if ('numbers' in v) return `[${v.numbers.map(num).join(', ')}]`;
  if ('ports' in v) return `ports [${v.ports.join(', ')}]`;
  if ('cidrs' in v) return `cidrs [${v.cidrs.join(', ')}]`;
  return `[${v.strings.join(', ')}]`;
}

/** A table: columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][], indent = '  '): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export function shortId(id: string | undefined): string {
  return id === undefined ? '-' : id.slice(0, 8);
}
