// The commands' side of the control socket: one request, one answer. "Not running" (no socket file, or
// nobody answering on it) is told apart from "not allowed" (EACCES: the socket admits only root), so the
// commands can fall back to the persisted state only in the first case.
import { createConnection } from 'node:net';
import { userInfo } from 'node:os';
import type { ClaimedIdentity } from './protocol.ts';

export class AgentNotRunning extends Error {
  override name = 'AgentNotRunning';
}

export interface ControlAnswer {
  ok: boolean;
  result?: unknown;
  error?: string;
}

/**
 * Who runs the command, as the agent will audit it: the user who ran sudo, else the login name, and the
 * uid. The kernel checked that this process may open the socket (only root may); the name is our word.
 */
export function whoAmI(env: NodeJS.ProcessEnv = process.env): ClaimedIdentity {
  const uid = process.getuid?.();
  let user = env.SUDO_USER;
  if (user === undefined || user === '') {
    try {
      user = userInfo().username;
    } catch {
      user = undefined; // a uid without a passwd entry (containers)
    }
  }
  const by: ClaimedIdentity = {};
  if (user !== undefined && /^[\p{L}\p{N}._@+-]{1,64}$/u.test(user)) by.user = user;
  if (uid !== undefined) by.uid = uid;
  return by;
}

export function sendControlRequest(path: string, request: Record<string, unknown>, timeoutMs = 15_000): Promise<ControlAnswer> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${path}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (fn: () => void) => {
      clearTimeout(timer);
      socket.destroy();
      fn();
    };
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${JSON.stringify({ id: 1, ...request })}\n`));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      const line = buffer.slice(0, nl);
      finish(() => {
        try {
          resolve(JSON.parse(line) as ControlAnswer);
        } catch (err) {
          reject(new Error(`${path}: unreadable answer: ${(err as Error).message}`));
        }
      });
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      finish(() => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new AgentNotRunning(`no agent answers on ${path}`));
        else if (err.code === 'EACCES')
          reject(new Error(`${path}: permission denied (the control socket admits only root: run with sudo)`));
        else reject(new Error(`${path}: ${err.message}`));
      });
    });
    socket.once('end', () => finish(() => reject(new Error(`${path}: the agent closed the connection without answering`))));
  });
}
