// Which nucleus instance is behind the IPC socket. The nucleus creates its socket file when it starts
// (aws-greengrass-nucleus IPCEventStreamService.startup binds a new server socket; UnixPlatform removes
// the file when it stops) and keeps it while it runs, so the file's device, inode and change time name
// one run of the nucleus. A restart of our component alone finds the same file; a restarted nucleus (or
// emulator) has made a new one. Used to decide whether what the outbox handed over before our restart is
// still in that nucleus's spool (src/ipc/outbox.ts). A chmod of the socket also changes its change time:
// that reads as a new nucleus, the safe mistake (messages are sent again, never skipped).
import { statSync } from 'node:fs';

/** `dev:ino:ctimeNs` of the socket at `socketPath`, or undefined when there is no socket there. */
export function nucleusIdentity(socketPath: string): string | undefined {
  try {
    const s = statSync(socketPath, { bigint: true });
    return s.isSocket() ? `${s.dev}:${s.ino}:${s.ctimeNs}` : undefined;
  } catch {
    return undefined;
  }
}
