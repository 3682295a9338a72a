/**
 * One TCP port for both transports: each connection's first bytes say which protocol it speaks (the HTTP/2 client
 * preface `PRI * HTTP/2.0` of gRPC's prior-knowledge connections, or an HTTP/1.1 request line), and the socket goes,
 * with those bytes put back, to the gRPC server or to the HTTP/1.1 server.
 */
import net from 'node:net';

/** The client connection preface of HTTP/2 (RFC 9113, section 3.4). */
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** Where sockets go. */
export interface PortMuxTargets {
  /** An HTTP/2 connection (gRPC); the socket holds every byte the client sent. */
  http2(socket: net.Socket): void;
  /** Anything else (HTTP/1.x); the socket holds every byte the client sent. */
  http1(socket: net.Socket): void;
}

/** A listening port that hands its connections to the right server. */
export interface PortMux {
  readonly port: number;
  /** Stops accepting and destroys every connection it accepted. */
  close(): Promise<void>;
}

function classify(socket: net.Socket, targets: PortMuxTargets): void {
  let seen: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, HTTP2_PREFACE.length);
    const http2 = seen.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
    if (http2 && seen.length < HTTP2_PREFACE.length) return; // could still be either: wait for more
    socket.removeListener('data', onData);
    socket.pause();
    socket.unshift(seen);
    if (http2) {
      // Node's HTTP/2 session reads what is buffered on the socket itself; resuming here would lose it.
      targets.http2(socket);
    } else {
      targets.http1(socket);
      socket.resume();
    }
  };
  socket.on('data', onData);
}

/** Listens on host:port (0 = a free port) and sorts each connection by its first bytes. */
export async function listenPortMux(host: string, port: number, targets: PortMuxTargets): Promise<PortMux> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // Errors after hand-off are the receiving server's; before, a reset connection is simply dropped.
    socket.on('error', () => undefined);
    classify(socket, targets);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
