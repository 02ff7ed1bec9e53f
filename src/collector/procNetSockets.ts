// Parser for the kernel's socket tables /proc/net/{tcp,tcp6,udp,udp6} (proc(5), "/proc/net/tcp").
// Pure: text in, entries out. Addresses are hex words in host byte order, so the caller passes the
// machine's endianness (os.endianness()) instead of the parser guessing it.
import ipaddr from 'ipaddr.js';

export type Endianness = 'LE' | 'BE';

export interface SocketEntry {
  protocol: 'tcp' | 'udp';
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** kernel state number: TCP 0x01 ESTABLISHED, 0x0A LISTEN; UDP 0x07 unconnected, 0x01 connected */
  state: number;
  uid: number;
  /** socket inode; 0 for sockets no file descriptor holds (TIME_WAIT, orphaned) */
  inode: number;
}

export const TCP_ESTABLISHED = 0x01;
export const TCP_LISTEN = 0x0a;
/** A UDP socket in TCP_CLOSE state is bound but not connected: it receives from anyone, i.e. "listening". */
export const UDP_UNCONNECTED = 0x07;

export interface SocketTableParse {
  entries: SocketEntry[];
  /** lines that did not parse (1-based line numbers with the reason); never fatal */
  badLines: string[];
}

// Formatting an IPv6 address is the costly step; the same local/remote addresses repeat on every line
// and every sample, so keep their text form. Bounded: cleared when it grows past the limit.
const v6TextCache = new Map<string, string>();
const V6_CACHE_LIMIT = 20_000;

function hexWordToBytes(hex: string, endianness: Endianness, out: number[]): boolean {
  if (hex.length !== 8) return false;
  const word = Number.parseInt(hex, 16);
  if (!Number.isFinite(word) || !/^[0-9A-Fa-f]{8}$/.test(hex)) return false;
  const b = [(word >>> 24) & 0xff, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff];
  if (endianness === 'LE') b.reverse();
  out.push(...b);
  return true;
}

/**
 * "0100007F" → "127.0.0.1"; 32 hex digits → RFC 5952 IPv6 text. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, a dual-stack socket talking IPv4) is returned as plain IPv4: the peer really is an
 * IPv4 host, and IPv4 CIDR behaviors (in-cidr-set, docs/localrules.md) must match it.
 */
export function decodeProcAddress(hex: string, endianness: Endianness): string | undefined {
  if (hex.length === 8) {
    const bytes: number[] = [];
    if (!hexWordToBytes(hex, endianness, bytes)) return undefined;
    return bytes.join('.');
  }
  if (hex.length !== 32) return undefined;
  const key = endianness + hex;
  const cached = v6TextCache.get(key);
  if (cached !== undefined) return cached;
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 8) if (!hexWordToBytes(hex.slice(i, i + 8), endianness, bytes)) return undefined;
  const addr = ipaddr.fromByteArray(bytes) as ipaddr.IPv6;
  const text = addr.isIPv4MappedAddress() ? addr.toIPv4Address().toString() : addr.toString();
  if (v6TextCache.size >= V6_CACHE_LIMIT) v6TextCache.clear();
  v6TextCache.set(key, text);
  return text;
}

function splitEndpoint(field: string, endianness: Endianness): { address: string; port: number } | undefined {
  const colon = field.indexOf(':');
  if (colon < 0) return undefined;
  const address = decodeProcAddress(field.slice(0, colon), endianness);
  const portHex = field.slice(colon + 1);
  if (address === undefined || !/^[0-9A-Fa-f]{4}$/.test(portHex)) return undefined;
  return { address, port: Number.parseInt(portHex, 16) };
}

/**
 * Parse one /proc/net/{tcp,tcp6,udp,udp6} file. The first line is the header; columns are
 * `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …`.
 */
export function parseProcNetSockets(text: string, protocol: 'tcp' | 'udp', endianness: Endianness): SocketTableParse {
  const entries: SocketEntry[] = [];
  const badLines: string[] = [];
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const f = line.trim().split(/\s+/);
    if (f.length < 10) {
      badLines.push(`line ${i + 1}: expected at least 10 columns, got ${f.length}`);
      continue;
    }
    const local = splitEndpoint(f[1]!, endianness);
    const remote = splitEndpoint(f[2]!, endianness);
    const state = Number.parseInt(f[3]!, 16);
    const uid = Number(f[7]);
    const inode = Number(f[9]);
    if (!local || !remote || !Number.isInteger(state) || !Number.isInteger(uid) || !Number.isInteger(inode)) {
      badLines.push(`line ${i + 1}: unparsable socket line`);
      continue;
    }
    entries.push({
      protocol,
      localAddress: local.address,
      localPort: local.port,
      remoteAddress: remote.address,
      remotePort: remote.port,
      state,
      uid,
      inode,
    });
  }
  return { entries, badLines };
}
