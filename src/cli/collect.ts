// `defender-edge collect [--once] [--json] [--report] [--interval MS] [--count N] [--config FILE]`: take
// samples with the same collector the agent runs and print them — for operators checking what the
// collector sees on a given host. With --report, each printed sample is followed by the Device Defender
// report built from it (the wire document, as the agent would publish it). Logs go to stderr.

import { componentConfigChecks } from '../agent/configChecks.ts';
import { Collector, type CollectorSample } from '../collector/collector.ts';
import type { DeviceSample, ListeningPort, ProcessSample, ProcessTrafficCoverage, ProcessTrafficMode } from '../collector/sample.ts';
import { readConfigFile } from '../config/configFile.ts';
import { type ConfigResult, validateConfig } from '../config/validate.ts';
import { createLogger } from '../log.ts';
import { buildHostReport } from '../report/buildReport.ts';
import { encodeWithinLimit } from '../report/sizeLimit.ts';
import { parseCommandArgs, UsageError } from './args.ts';

const HELP = `usage: defender-edge collect [--once] [--json] [--report] [--interval MS] [--count N] [--config FILE]

Print host and downstream-device metric samples.
  --once          take two samples one interval apart (deltas need two) and print the second
                  (without --once the first sample is printed too, with no traffic deltas yet)
  --json          one JSON object per line: {"host": HostSample, "devices": [DeviceSample]}
  --interval MS   sampling interval, 100..60000 (default: config sampling.intervalMs, 1000)
  --count N       stop after N printed samples (default: until interrupted)
  --report        after each sample, the Device Defender report built from it (JSON, as published)
  --config FILE   component configuration (JSON or YAML); default: all defaults
`;

function intOption(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name}: must be an integer ${min}..${max}, got '${value}'`);
  return n;
}

function loadConfig(file: string | undefined): ConfigResult {
  if (file === undefined) return validateConfig({}, componentConfigChecks);
  return readConfigFile(file, componentConfigChecks);
}

function fmtTraffic(t: { bytesIn: number; bytesOut: number; packetsIn: number; packetsOut: number } | undefined): string {
  return t ? `in ${t.bytesIn} B/${t.packetsIn} pkt, out ${t.bytesOut} B/${t.packetsOut} pkt` : 'n/a (first sample)';
}

function fmtListening(l: ListeningPort): string {
  return `${l.protocol}/${l.port}${l.interface ? `@${l.interface}` : ''}${l.pid ? `(pid ${l.pid})` : ''}`;
}

/** What each per-process traffic mode sees (docs/traffic.md#coverage). */
export const COVERAGE: Record<ProcessTrafficMode, string> = {
  ebpf: 'kernel counters: every byte, TCP and UDP, a connection per write, short-lived children',
  sockdiag:
    'sock_diag: TCP sockets alive at a sample and closed ones seen in a dump; no UDP; a connection that lived between two samples is unattributed',
  proc: '/proc/net + ss: TCP sockets alive at a sample only; no UDP, closed sockets lose their last interval',
  off: 'not collected',
};

function fmtCoverage(c: ProcessTrafficCoverage): string {
  return `  per-process traffic: ${c.mode}${c.reason ? ` (${c.reason})` : ''} — ${COVERAGE[c.mode]}; unattributed ${c.unattributedBytes} B`;
}

function fmtProcess(p: ProcessSample): string {
  const tcp = p.listeningTcpPorts.join(',') || '-';
  const udp = p.listeningUdpPorts.join(',') || '-';
  const mqtt = p.messagesSent !== undefined ? ` mqtt msgs sent ~${p.messagesSent} received ~${p.messagesReceived ?? 0}` : '';
  const bytes =
    p.family !== undefined ? `bytes counted in family ${p.family}` : `family bytes in ${p.traffic.bytesIn} out ${p.traffic.bytesOut}`;
  return `  pid ${p.pid} ${p.comm}: tcp ${tcp} udp ${udp} conns ${p.establishedConnections} ${bytes}${mqtt}`;
}

function fmtDevice(d: DeviceSample): string {
  const messages = `messages sent ${d.messagesSent} received ${d.messagesReceived} bytes ${d.messageBytes}`;
  return `  device ${d.thingName}: ${fmtTraffic(d.traffic)}; destinations ${d.destinations.join(',') || '-'}; ${messages}`;
}

export function formatSample(s: CollectorSample): string {
  const h = s.host;
  const lines = [
    `sample ${new Date(h.t).toISOString()} interval ${h.intervalMs} ms`,
    `  network: ${fmtTraffic(h.network)}`,
    `  listening: ${h.listening.map(fmtListening).join(' ') || 'none'}`,
    `  established tcp: ${h.established.length}`,
    ...(h.processTraffic ? [fmtCoverage(h.processTraffic)] : []),
    ...h.processes.map(fmtProcess),
    `  custom: ${Object.entries(h.custom)
      .map(([k, v]) => `${k}=${'number' in v ? v.number : JSON.stringify(v)}`)
      .join(' ')}`,
    ...s.devices.map(fmtDevice),
  ];
  if (h.degraded.length > 0) lines.push(`  degraded: ${h.degraded.join('; ')}`);
  return lines.join('\n');
}

export async function collectCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      once: { type: 'boolean' },
      json: { type: 'boolean' },
      interval: { type: 'string' },
      count: { type: 'string' },
      config: { type: 'string' },
      report: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const loaded = loadConfig(values.config);
  if (!loaded.ok) {
    process.stderr.write(`${loaded.errors.join('\n')}\n`);
    return 1;
  }
  const { config } = loaded;
  const intervalMs = intOption('interval', values.interval, 100, 60_000) ?? config.sampling.intervalMs;
  const count = values.once ? 1 : intOption('count', values.count, 1, Number.MAX_SAFE_INTEGER);
  const logger = createLogger({ level: config.logLevel, fd: 2 });
  const collector = new Collector({ config, logger });
  const print = (s: CollectorSample) => {
    process.stdout.write(`${values.json ? JSON.stringify(s) : formatSample(s)}\n`);
    if (!values.report) return;
    const built = buildHostReport(s.host, { reportId: s.host.t, maxListSize: config.reporting.maxListSize });
    const encoded = built.report ? encodeWithinLimit(built.report, { format: 'json', style: config.reporting.names }) : undefined;
    const text = encoded?.ok ? Buffer.from(encoded.payload).toString('utf8') : JSON.stringify({ report: null, problems: built.problems });
    process.stdout.write(`${values.json ? text : `  report: ${text}`}\n`);
  };

  let stopping = false;
  let wake: (() => void) | undefined;
  const onSignal = () => {
    stopping = true;
    wake?.();
  };
  // A reader that goes away (`collect --json | head`) ends the loop instead of crashing on EPIPE.
  const onStdoutError = () => onSignal();
  process.stdout.on('error', onStdoutError);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  await collector.start();
  try {
    // The first sample has no traffic deltas yet (no network_stats without a previous sample,
    // docs/reports.md). `--once` waits for the second; otherwise it is printed at once, as it is: the
    // ports, connections and processes are already real (and it shows how soon the agent sees the host).
    let next = Date.now();
    const first = await collector.sample(next);
    let printed = 0;
    if (!values.once) {
      print(first);
      printed++;
    }
    while (!stopping && (count === undefined || printed < count)) {
      next += intervalMs;
      await sleep(Math.max(0, next - Date.now()));
      if (stopping) break;
      print(await collector.sample(Date.now()));
      printed++;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stdout.off('error', onStdoutError);
    await collector.stop();
  }
  return 0;
}
