// `remote_addr` of a TCP connection (docs/reports.md#the-document): "ip:port", IPv4 or IPv6. The
// specification's table calls the type "Number" — a doc error, every example and SDK sends a string. The
// Python agent SDK writes IPv6 as "[ip]:port" since its 2021-01-20 change (commit 2f9542e); older agents
// wrote "ip:port" unbracketed and are still deployed — so an unbracketed IPv6 form is accepted too, the
// last ':' being the port.
import { isIPv4 as netIsIPv4, isIPv6 as netIsIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface RemoteAddress {
  ip: string;
  port: number;
}

const PORT = /^[0-9]{1,5}$/;

function validPort(text: string): number | null {
  if (!PORT.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

// node:net's checks are native and strict (four-part decimal IPv4, no leading zeros): this is a hot path
// for every connection of every report.
export function isIPv4(text: string): boolean {
  return netIsIPv4(text);
}

export function isIPv6(text: string): boolean {
  return netIsIPv6(text);
}

/** Parse `ip:port` / `[ipv6]:port`; null when it is neither. Never throws. */
export function parseRemoteAddress(text: string): RemoteAddress | null {
  if (text.length > 100) return null;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return null;
    const ip = text.slice(1, close);
    const port = validPort(text.slice(close + 2));
    return port !== null && isIPv6(ip) ? { ip, port } : null;
  }
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return null;
  const ip = text.slice(0, colon);
  const port = validPort(text.slice(colon + 1));
  if (port === null) return null;
  return isIPv4(ip) || isIPv6(ip) ? { ip, port } : null;
}

/**
 * Write `ip:port` the way the Python agent SDK does (IPv6 in brackets). IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, as a
 * dual-stack socket reports IPv4 peers) are written as plain IPv4, so that IPv4 `cidrs` in a
 * `aws:destination-ip-addresses` behavior match them. Null for an address that is not an IP.
 */
export function formatRemoteAddress(ip: string, port: number): string | null {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  if (isIPv4(ip)) return `${ip}:${port}`;
  if (!isIPv6(ip)) return null;
  const parsed = ipaddr.IPv6.parse(ip);
  if (parsed.isIPv4MappedAddress()) return `${parsed.toIPv4Address().toString()}:${port}`;
  return `[${ip}]:${port}`;
}
