// A plain MQTT broker on loopback for the demo on nucleus lite: lite has no client-device broker (its
// recipes are generic components only), but the scenario's rogue agent is just a process speaking MQTT to
// some broker — on a lite gateway, one that is not part of Greengrass. No TLS, no authorization: only the
// demo's own actors connect, to 127.0.0.1.
import type { EventEmitter } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from '../log.ts';

export interface PlainBroker {
  /** `mqtt://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Closes every client and the listener. Safe to call twice. */
  stop(): Promise<void>;
}

/** Listen on 127.0.0.1:`port` (0 = a free port). */
export async function startPlainBroker(port: number, log: Logger): Promise<PlainBroker> {
  const aedes = await Aedes.createBroker();
  // aedes emits 'error' for persistence failures; without a listener that would end the demo.
  const emitter: EventEmitter = aedes;
  emitter.on('error', (err: Error) => log.error({ err }, 'demo broker error'));
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    throw err;
  }
  const bound = (server.address() as AddressInfo).port;
  let stopping: Promise<void> | undefined;
  return {
    url: `mqtt://127.0.0.1:${bound}`,
    port: bound,
    stop: () => {
      stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await new Promise<void>((resolve) => aedes.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await closed;
      })();
      return stopping;
    },
  };
}
