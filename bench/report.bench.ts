// Validate + encode throughput for a typical ~4 KB Device Defender report, JSON and CBOR.
// validate = checkReportMessage (decode, bounded CBOR walk, validate into the model, encode the answer);
// validateEncode = that plus encodeReport of the validated model. Baseline, same run, same bytes = the bare codec round trip:
// JSON.parse + JSON.stringify, or cbor-x decode + encode. Medians over rounds; ratio = ours / baseline.
import { performance } from 'node:perf_hooks';
import { Decoder, Encoder } from 'cbor-x';
import type { HostSample } from '../src/collector/sample.ts';
import { buildHostReport } from '../src/report/buildReport.ts';
import { checkReportMessage } from '../src/report/checkMessage.ts';
import { encodeReport } from '../src/report/encode.ts';
import type { ReportFormat } from '../src/report/model.ts';
import type { BenchSuite } from './run.ts';
import { median, round } from './stats.ts';

function typicalSample(): HostSample {
  return {
    t: 1_700_000_300_000,
    intervalMs: 300_000,
    network: { bytesIn: 18_352_711, bytesOut: 4_021_170, packetsIn: 22_104, packetsOut: 18_741 },
    listening: [
      ...Array.from({ length: 14 }, (_, i) => ({ protocol: 'tcp' as const, address: '10.0.0.2', port: 8000 + i, interface: 'eth0' })),
      ...Array.from({ length: 8 }, (_, i) => ({ protocol: 'udp' as const, address: '0.0.0.0', port: 5000 + i })),
    ],
    established: Array.from({ length: 38 }, (_, i) => ({
      localAddress: '10.0.0.2',
      localPort: 40_000 + i,
      remoteAddress: i % 5 === 0 ? `2001:db8::${i + 1}` : `52.94.${i}.${200 - i}`,
      remotePort: 8883,
      localInterface: 'eth0',
    })),
    processes: [],
    custom: {
      cpu_usage: { number: 12.5 },
      mem_free: { number: 512_000 },
      allowed_users: { string_list: ['root', 'ggc_user', 'admin'] },
      dns_servers: { ip_list: ['10.0.0.1', '1.1.1.1'] },
    },
    degraded: [],
  };
}

const cborDecoder = new Decoder({ useRecords: false, mapsAsObjects: true });
const cborEncoder = new Encoder({ useRecords: false, mapsAsObjects: true, variableMapSize: true });

function perSecond(iterations: number, fn: () => void): number {
  const start = performance.now();
  for (let i = 0; i < iterations; i++) fn();
  return iterations / ((performance.now() - start) / 1000);
}

function measure(format: ReportFormat, payload: Uint8Array, rounds: number, iterations: number) {
  const topic = `$aws/things/gw-1/defender/metrics/${format}`;
  const check = () => {
    const r = checkReportMessage({ topic, payload, nowMs: 1 });
    if (r.status !== 'ACCEPTED') throw new Error(`bench report rejected: ${r.status === 'REJECTED' ? r.errors.join('; ') : r.error}`);
    return r;
  };
  // What the downstream forwarder does: validate, answer, forward the original bytes.
  const validateOnly = () => {
    check();
  };
  // What the report builder path costs when a validated model is written out again.
  const validateEncode = () => {
    const r = check();
    encodeReport(r.report, format, r.style);
  };
  const baseline =
    format === 'json'
      ? () => {
          JSON.stringify(JSON.parse(Buffer.from(payload).toString('utf8')));
        }
      : () => {
          cborEncoder.encode(cborDecoder.decode(payload));
        };
  const rates: Record<'validate' | 'validateEncode' | 'baseline', number[]> = { validate: [], validateEncode: [], baseline: [] };
  validateEncode();
  baseline();
  for (let r = 0; r < rounds; r++) {
    // Interleaved so that load from other processes on the machine hits all three alike.
    rates.baseline.push(perSecond(iterations, baseline));
    rates.validate.push(perSecond(iterations, validateOnly));
    rates.validateEncode.push(perSecond(iterations, validateEncode));
  }
  const base = median(rates.baseline);
  return {
    payloadBytes: payload.length,
    validatePerSecond: Math.round(median(rates.validate)),
    validateEncodePerSecond: Math.round(median(rates.validateEncode)),
    baselineCodecRoundTripPerSecond: Math.round(base),
    validateRatioToBaseline: round(median(rates.validate) / base),
    validateEncodeRatioToBaseline: round(median(rates.validateEncode) / base),
    rounds,
    iterationsPerRound: iterations,
  };
}

export const suite: BenchSuite = {
  name: 'report',
  run: async () => {
    const { report } = buildHostReport(typicalSample(), { reportId: 1_700_000_300_001 });
    const rounds = 7;
    const iterations = 2000;
    return {
      what:
        'reports/s: validate (decode + validate + answer) and validate + encode of a typical report, vs. the bare ' +
        'codec round trip (parse + serialize) of the same bytes',
      jsonLong: measure('json', encodeReport(report!, 'json', 'long'), rounds, iterations),
      jsonShort: measure('json', encodeReport(report!, 'json', 'short'), rounds, iterations),
      cborLong: measure('cbor', encodeReport(report!, 'cbor', 'long'), rounds, iterations),
    };
  },
};
