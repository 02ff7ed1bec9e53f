// The arm64 release zip on Debian 12's arm64 kernel (6.1), the stock kernel of many gateways: it predates
// the sock_send_length/sock_recv_length tracepoints (Linux 6.3) the eBPF counters hook, so the helper
// serves sock_diag and the sample names the missing tracepoint (docs/traffic.md#kernel-requirements);
// the rest (collection, an nftables block, the rogue scenario) must work all the same.
import { describeZipInVm } from './zipInVm.ts';

await describeZipInVm('bookworm', /^6\.1\.\d+\S*-cloud-arm64\n$/, {
  mode: 'sockdiag',
  reason: 'load: kernel lacks tracepoint sock_send_length',
});
