// Parser for `ss -t -i -e -n -O -H` output: the kernel's per-socket TCP counters (struct tcp_info, via
// the sock_diag netlink interface that Node cannot open itself). One line per socket thanks to -O, e.g.
//   ESTAB 0 0 127.0.0.1:34630 127.0.0.1:35881 ino:17437 sk:3 cgroup:/ <-> ts sack … bytes_acked:1 segs_out:2 …
// ss prints a counter only when it is non-zero, so an absent counter is 0. Pure.

export interface TcpSocketCounters {
  /** tcp_info.tcpi_bytes_acked: bytes sent and acknowledged by the peer (no retransmissions) */
  bytesAcked: number;
  /** tcp_info.tcpi_bytes_received: bytes received in order */
  bytesReceived: number;
  segsOut: number;
  segsIn: number;
  /** tcp_info.tcpi_data_segs_out / _in: segments carrying payload (Linux ≥ 4.6); absent when unknown */
  dataSegsOut?: number;
  dataSegsIn?: number;
}

export interface SsParse {
  /** keyed by socket inode */
  sockets: Map<number, TcpSocketCounters>;
  badLines: string[];
}

const FIELDS: Record<string, keyof TcpSocketCounters> = {
  bytes_acked: 'bytesAcked',
  bytes_received: 'bytesReceived',
  segs_out: 'segsOut',
  segs_in: 'segsIn',
  data_segs_out: 'dataSegsOut',
  data_segs_in: 'dataSegsIn',
};

export function parseSsTcpInfo(text: string): SsParse {
  const sockets = new Map<number, TcpSocketCounters>();
  const badLines: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const tokens = line.trim().split(/\s+/);
    let inode = -1;
    // ss prints data_segs_* only when non-zero, like the others (kernels before 4.6 never have them).
    const c: TcpSocketCounters = { bytesAcked: 0, bytesReceived: 0, segsOut: 0, segsIn: 0, dataSegsOut: 0, dataSegsIn: 0 };
    for (const tok of tokens) {
      const colon = tok.indexOf(':');
      if (colon <= 0) continue;
      const key = tok.slice(0, colon);
      if (key === 'ino') {
        inode = Number(tok.slice(colon + 1));
        continue;
      }
      const field = FIELDS[key];
      if (field !== undefined) {
        const v = Number(tok.slice(colon + 1));
        if (Number.isFinite(v) && v >= 0) c[field] = v;
      }
    }
    if (!Number.isInteger(inode) || inode < 0) {
      badLines.push(`line ${i + 1}: no ino: field (was ss run with -e?)`);
      continue;
    }
    // ino:0 = no file holds the socket (TIME_WAIT / orphaned): nobody to attribute it to.
    if (inode > 0) sockets.set(inode, c);
  }
  return { sockets, badLines };
}

/**
 * Arguments for one ss run: TCP only, numeric, per-socket info (-i), inode (-e), one line per socket (-O),
 * no header (-H), sockets that can carry bytes (`state connected`: all but LISTEN and CLOSE). When loopback
 * traffic is excluded, the kernel filter drops sockets talking to a loopback or own address before ss
 * formats them — they would only be discarded after parsing, and formatting is most of ss's cost.
 */
export function ssTcpInfoArgs(excludeDestinations: readonly string[]): string[] {
  const args = ['-t', '-n', '-i', '-e', '-O', '-H', 'state', 'connected'];
  if (excludeDestinations.length === 0) return args;
  const terms: string[] = [];
  for (const d of excludeDestinations) {
    if (terms.length > 0) terms.push('or');
    // ss wants IPv6 hosts in brackets; addresses come from the kernel (validated text), never from users.
    terms.push('dst', d.includes(':') && !d.includes('/') ? `[${d}]` : d);
  }
  return [...args, '!', '(', ...terms, ')'];
}
