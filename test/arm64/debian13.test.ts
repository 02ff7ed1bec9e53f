// The arm64 release zip on Debian 13's arm64 kernel (6.12): the eBPF counters hook the sock_send_length
// and sock_recv_length tracepoints (Linux 6.3).
import { describeZipInVm } from './zipInVm.ts';

await describeZipInVm('trixie', /^6\.12\.\d+\S*-cloud-arm64\n$/, { mode: 'ebpf' });
