// Names of the resources tests create (namespaces, interfaces, nft tables, cgroups). Not a test file.
import { randomBytes } from 'node:crypto';

/**
 * `dedge` + 6 hex chars: the prefix every test resource carries (other engineers run tests concurrently),
 * short enough for interface names (15 chars) with a 2–4 char role suffix.
 */
export function uniqueId(): string {
  return `dedge${randomBytes(3).toString('hex')}`;
}
