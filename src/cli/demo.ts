// `defender-edge demo` (also `npm start`): the rogue-agent scenario (docs/demo.md#the-scenario) on this
// machine with no AWS account — emulator, agent, rogue, innocent neighbour, downstream device — as a
// compact live view and a summary table, or as one JSON object (--json). Exit 0 when the story held,
// 1 when it did not (the summary's `problems` say why), 2 on a bad command line, 130 on Ctrl-C.
import type { LevelWithSilent } from 'pino';
import { actionLine, cloudLine, sampleLine, stamp, violationLine } from '../demo/liveView.ts';
import { type DemoAction, RogueScenario } from '../demo/scenario.ts';
import { renderSummary } from '../demo/summary.ts';
import { createLogger, silentLogger } from '../log.ts';
import { parseCommandArgs, UsageError } from './args.ts';

const USAGE = `usage: defender-edge demo [--json] [--dry-run] [--action terminate|suspend] [--streamer]
                          [--sampling-ms N] [--report-every N] [--rogue-interval-ms N] [--timeout-seconds N]
                          [--log-level LEVEL] [--keep]

Runs the rogue-agent scenario on this machine: the Greengrass IPC emulator (with an MQTT broker and a
simulated cloud), the agent with the scenario's profile (msgReceive, bytesOut) per process in enforce
mode, a rogue agent flooding MQTT, an innocent process beside it and a downstream device sending reports.
Only processes the demo starts are judged and acted on.

  --json               print only the summary, as one JSON object
  --dry-run            enforcement logs what it would do and changes nothing
  --action A           terminate (SIGTERM, SIGKILL after 2 s; default) or suspend (SIGSTOP)
  --streamer           add a second rogue that streams bytes to a local TCP sink
  --sampling-ms N      agent sampling interval (default 1000)
  --report-every N     Defender report every N seconds (default 5; compressed for the demo — deployments
                       report every 300 s or more)
  --rogue-interval-ms N  pause between the rogue's messages (default 40 = 25 messages/s; the scenario's 1000
                       would cross bytesOut after ~67 s)
  --timeout-seconds N  give up after N seconds (default 60)
  --log-level LEVEL    the agent's own logs on stderr (default silent)
  --keep               keep the work dir (agent state, enforcement audit log, cloud record); --json adds
                       its path as workDir`;

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function intOption(text: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${name}: must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      json: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      action: { type: 'string', default: 'terminate' },
      streamer: { type: 'boolean', default: false },
      'sampling-ms': { type: 'string' },
      'report-every': { type: 'string' },
      'rogue-interval-ms': { type: 'string' },
      'timeout-seconds': { type: 'string' },
      'log-level': { type: 'string', default: 'silent' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.action !== 'terminate' && values.action !== 'suspend') throw new UsageError('--action: must be terminate or suspend');
  if (!LEVELS.includes(values['log-level']!)) throw new UsageError(`--log-level: must be one of ${LEVELS.join(', ')}`);
  const action: DemoAction = values.action === 'suspend' ? 'process-suspend' : 'process-terminate';
  const samplingMs = intOption(values['sampling-ms'], '--sampling-ms', 100, 60_000, 1000);
  const reportEverySeconds = intOption(values['report-every'], '--report-every', 1, 3600, 5);
  const rogueIntervalMs = intOption(values['rogue-interval-ms'], '--rogue-interval-ms', 1, 60_000, 40);
  const timeoutMs = intOption(values['timeout-seconds'], '--timeout-seconds', 5, 3600, 60) * 1000;
  const level = values['log-level'] as LevelWithSilent;
  const logger = level === 'silent' ? silentLogger() : createLogger({ level, fd: 2 });
  const json = values.json!;
  const say = (line: string) => {
    if (!json && !readerGone) process.stdout.write(`${line}\n`);
  };

  const scenario = new RogueScenario({
    samplingMs,
    mode: values['dry-run'] ? 'dry-run' : 'enforce',
    action,
    rogueIntervalMs,
    reportEverySeconds,
    logger,
    keepWorkDir: values.keep!,
  });
  let interrupted = false;
  let readerGone = false;
  const onSignal = () => {
    interrupted = true;
    say('\ninterrupted: stopping every process the demo started…');
    void scenario.stop();
  };
  // `demo | head`: the reader went away (EPIPE). Stop like on Ctrl-C instead of dying without cleanup.
  const onStdoutError = () => {
    readerGone = true;
    onSignal();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.stdout.on('error', onStdoutError);
  const t0 = Date.now();
  try {
    say(
      `defender-edge demo — the rogue-agent scenario on this machine, no AWS account ` +
        `(${values['dry-run'] ? 'DRY-RUN: nothing will be stopped' : 'enforce mode'})`,
    );
    await scenario.start();
    say(`  work dir: ${scenario.workDir} (${values.keep ? 'kept' : 'removed at the end'})`);
    say(`  emulator: Greengrass IPC socket, client-device MQTT broker ${scenario.mqttUrl}, simulated cloud record`);
    say(
      `  agent: thing ${scenario.gatewayThing}, sampling every ${samplingMs} ms, action ${action}, Defender reports ` +
        `every ${reportEverySeconds} s (compressed for the demo; deployments: ≥ 300 s)`,
    );
    say(
      "  profile (the scenario's, per process): msgReceive aws:num-messages-received less-than 100 per 300 s; " +
        'bytesOut aws:all-bytes-out less-than 10000 per 300 s',
    );
    say(
      `  the rogue floods /rogue/agent with ${Math.round(1000 / rogueIntervalMs)} messages/s of {"message": <100 random A-Z0-9>} and receives them back`,
    );
    say('');
    scenario.on('actor', (a) => say(`${stamp(a.t, t0)}  ${a.event} ${a.role} (pid ${a.pid})${a.detail ? ` — ${a.detail}` : ''}`));
    scenario.on('sample', (v) => {
      if (v.processes.length > 0) say(sampleLine(v, t0));
      if (v.degraded.length > 0) say(`${stamp(v.t, t0)}  degraded collectors: ${v.degraded.join('; ')}`);
    });
    // The agent announces a violation while it is still inside the sample that crossed: print it after that sample's line.
    scenario.on('violation', (ev) => setImmediate(() => say(violationLine(ev, t0))));
    scenario.on('action', (r) => setImmediate(() => say(actionLine(r, t0))));
    scenario.on('cloud', (l) => say(cloudLine(l, t0, scenario.gatewayThing)));
    scenario.on('device', (d) =>
      say(
        `${stamp(Date.now(), t0)}  device ${scenario.deviceThing} got its answer: report ${d.reportId ?? '?'} ${d.accepted ? 'ACCEPTED' : 'REJECTED'}`,
      ),
    );
    const summary = await scenario.round({ streamer: values.streamer!, timeoutMs });
    await scenario.stop();
    if (interrupted) return 130;
    if (json && !readerGone) process.stdout.write(`${JSON.stringify(values.keep ? { ...summary, workDir: scenario.workDir } : summary)}\n`);
    else
      say(
        renderSummary(summary) +
          (values.keep
            ? `\n\nkept: ${scenario.workDir} (cloud.jsonl = what reached the cloud; state/enforcement/audit.jsonl = every action)`
            : ''),
      );
    return summary.ok ? 0 : 1;
  } catch (err) {
    await scenario.stop();
    if (interrupted) return 130;
    throw err;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.stdout.removeListener('error', onStdoutError);
  }
}
