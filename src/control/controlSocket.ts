// The control socket: a Unix socket in the agent's work folder (`control.sock`), mode 0600, so only its
// owner — root, for the component — can connect (connect(2) needs write permission on the socket file,
// unix(7)). JSON lines: one request per line, one answer per line, in order. A line longer than
// MAX_REQUEST_BYTES is refused and the connection closed; idle connections are closed; at most
// `maxConnections` at once. Node has no SO_PEERCRED: who asked is what the client says (`by`), behind
// the file mode that admits only root.
import { chmodSync, existsSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { MAX_REQUEST_BYTES } from './protocol.ts';

export const CONTROL_SOCKET_NAME = 'control.sock';

export function controlSocketPath(workDir: string): string {
  return join(workDir, CONTROL_SOCKET_NAME);
}

/** sun_path holds 108 bytes with its terminating NUL (unix(7)). */
export const MAX_SOCKET_PATH_BYTES = 107;

export interface ControlSocketServerOptions {
  path: string;
  /** one request line in, one answer line out (without the newline) */
  handle: (line: string) => Promise<string>;
  logger: Logger;
  maxConnections?: number;
  idleMs?: number;
}

/** Does anything answer on this socket path? (a stale file from a crashed agent does not) */
export function socketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    const done = (v: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export class ControlSocketServer {
  readonly path: string;
  readonly #o: ControlSocketServerOptions;
  #server: Server | undefined;
  #ino: number | undefined;
  readonly #sockets = new Set<Socket>();
  requests = 0;
  refused = 0;

  constructor(options: ControlSocketServerOptions) {
    this.path = options.path;
    this.#o = options;
  }

  async start(): Promise<void> {
    if (Buffer.byteLength(this.path) > MAX_SOCKET_PATH_BYTES)
      throw new Error(`control socket ${this.path}: longer than ${MAX_SOCKET_PATH_BYTES} bytes (unix(7) sun_path)`);
    if (existsSync(this.path)) {
      if (await socketAnswers(this.path)) throw new Error(`control socket ${this.path}: another agent answers there (same work folder?)`);
      unlinkSync(this.path); // left behind by an agent that did not stop cleanly
    }
    // Bound under a temporary name and made 0600 before it gets its real name: nobody else can ever
    // connect, whatever the umask.
    const tmp = `${this.path}.${process.pid}.tmp`;
    const server = createServer((socket) => this.#accept(socket));
    server.maxConnections = this.#o.maxConnections ?? 16;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tmp, () => {
        server.off('error', reject);
        resolve();
      });
    });
    try {
      chmodSync(tmp, 0o600);
      renameSync(tmp, this.path);
      this.#ino = statSync(this.path).ino;
    } catch (err) {
      server.close();
      throw err;
    }
    server.on('error', (err) => this.#o.logger.error({ err }, 'control socket error'));
    this.#server = server;
    this.#o.logger.info({ path: this.path }, 'control socket listening');
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.setEncoding('utf8');
    socket.setTimeout(this.#o.idleMs ?? 60_000, () => socket.destroy());
    let buffer = '';
    let refused = false;
    let chain = Promise.resolve();
    const answer = (line: string) => {
      chain = chain.then(async () => {
        if (socket.destroyed) return;
        this.requests++;
        const out = await this.#o.handle(line);
        if (!socket.destroyed) socket.write(`${out}\n`);
      });
    };
    const refuse = () => {
      refused = true;
      buffer = '';
      this.#refuse(socket, chain);
    };
    socket.on('data', (chunk: string) => {
      if (refused) return;
      buffer += chunk;
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (Buffer.byteLength(line) > MAX_REQUEST_BYTES) return refuse();
        if (line.trim() !== '') answer(line);
      }
      if (Buffer.byteLength(buffer) > MAX_REQUEST_BYTES) refuse();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#sockets.delete(socket));
  }

  #refuse(socket: Socket, after: Promise<void>): void {
    this.refused++;
    socket.pause();
    void after.then(() => {
      if (socket.destroyed) return;
      socket.end(`${JSON.stringify({ ok: false, error: `(request): longer than ${MAX_REQUEST_BYTES} bytes` })}\n`);
    });
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      // Only our own socket file: a newer agent may have taken the name meanwhile.
      if (statSync(this.path).ino === this.#ino) unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }
}
