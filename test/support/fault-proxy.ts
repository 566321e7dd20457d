// A fault-injecting HTTP proxy in front of a real registry, switched at run time by the test: latency,
// bandwidth limits, connection resets (at connect, after the headers, mid-body), requests never answered,
// bodies that stall, status storms (429 with Retry-After, 503), and a registry that is down.
//
// Why not Toxiproxy: its toxics are TCP-level (latency, bandwidth, reset_peer, timeout, slicer), so it
// cannot answer 429 with a Retry-After, which is the registry fault users meet most (Docker Hub rate
// limits); it would also be one more Go build on a shared 2-core machine. This proxy does the TCP-level
// faults too (socket resets and stalls), per request path when a test wants to hit only blobs or only
// the referrers API.
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export type Fault =
  | { readonly kind: 'latency'; readonly ms: number; readonly jitterMs?: number }
  /** Response bodies trickle at this rate (headers go at once). */
  | { readonly kind: 'bandwidth'; readonly bytesPerSecond: number }
  /** The connection is reset: before any answer, after the headers, or halfway through the body. */
  | { readonly kind: 'reset'; readonly at: 'connect' | 'headers' | 'body' }
  /** The request is read and never answered. */
  | { readonly kind: 'hang' }
  /** Headers and half the body are sent, then nothing more. */
  | { readonly kind: 'stall' }
  /** An error status instead of the registry's answer (a 429 storm, 503s). */
  | { readonly kind: 'status'; readonly status: number; readonly retryAfter?: string }
  /** Connections are closed as soon as they open (the registry is down or restarting). */
  | { readonly kind: 'down' };

export interface FaultRule {
  readonly fault: Fault;
  /** Share of matching requests faulted (default 1). */
  readonly probability?: number;
  /** Only requests whose path matches (default: all). */
  readonly path?: RegExp;
}

export interface FaultProxy {
  /** `127.0.0.1:PORT` */
  readonly host: string;
  /** Replaces the active faults (none: a transparent proxy). */
  set(...rules: readonly (Fault | FaultRule)[]): void;
  clear(): void;
  readonly stats: { requests: number; faulted: number; connections: number };
  close(): Promise<void>;
}

const isRule = (r: Fault | FaultRule): r is FaultRule => 'fault' in r;

/** Starts a proxy on 127.0.0.1 in front of `upstream` (`host:port`, plain HTTP). */
export async function startFaultProxy(
  upstream: string,
  opts: { random?: () => number } = {},
): Promise<FaultProxy> {
  const random = opts.random ?? Math.random;
  const [upHost, upPort] = splitHost(upstream);
  let rules: FaultRule[] = [];
  const stats = { requests: 0, faulted: 0, connections: 0 };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const pick = (path: string): Fault | undefined => {
    for (const r of rules) {
      if (r.path !== undefined && !r.path.test(path)) continue;
      if (random() < (r.probability ?? 1)) return r.fault;
    }
    return undefined;
  };

  const server: Server = createServer((req, res) => {
    stats.requests += 1;
    const fault = pick(req.url ?? '/');
    if (fault !== undefined) stats.faulted += 1;
    handle(req, res, fault);
  });
  server.on('connection', (socket: Socket) => {
    stats.connections += 1;
    if (rules.some((r) => r.fault.kind === 'down' && random() < (r.probability ?? 1))) {
      socket.resetAndDestroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });

  const handle = (req: IncomingMessage, res: ServerResponse, fault: Fault | undefined) => {
    switch (fault?.kind) {
      case 'latency':
        later(fault.ms + random() * (fault.jitterMs ?? 0), () => forward(req, res, undefined));
        return;
      case 'hang':
        req.resume();
        return;
      case 'status': {
        req.resume();
        const body = JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'injected fault' }] });
        res.writeHead(fault.status, {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          ...(fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {}),
        });
        res.end(body);
        return;
      }
      case 'reset':
        if (fault.at === 'connect') {
          req.resume();
          req.socket.resetAndDestroy();
          return;
        }
        forward(req, res, fault);
        return;
      default:
        forward(req, res, fault);
    }
  };

  const forward = (req: IncomingMessage, res: ServerResponse, fault: Fault | undefined) => {
    const upstreamReq = request(
      { host: upHost, port: upPort, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        const headers = { ...up.headers };
        if (typeof headers.location === 'string')
          headers.location = headers.location.replace(`http://${upstream}`, '');
        const length = Number(up.headers['content-length'] ?? Number.NaN);
        if (fault?.kind === 'reset' && fault.at === 'headers') {
          res.writeHead(up.statusCode ?? 502, headers);
          res.flushHeaders();
          up.destroy();
          later(5, () => res.socket?.resetAndDestroy());
          return;
        }
        res.writeHead(up.statusCode ?? 502, headers);
        if (fault?.kind === 'reset' || fault?.kind === 'stall') {
          // Half the body (at least a byte when there is one), then a reset or silence.
          const half = Number.isFinite(length) ? Math.max(1, Math.floor(length / 2)) : 1;
          let sent = 0;
          up.on('data', (chunk: Buffer) => {
            if (sent >= half) return;
            const part = chunk.subarray(0, half - sent);
            sent += part.length;
            res.write(part);
            if (sent >= half) {
              up.destroy();
              if (fault.kind === 'reset') later(5, () => res.socket?.resetAndDestroy());
            }
          });
          up.on('end', () => {
            if (sent < half || length === 0) res.socket?.resetAndDestroy();
          });
          return;
        }
        if (fault?.kind === 'bandwidth') {
          trickle(up, res, fault.bytesPerSecond, later);
          return;
        }
        up.pipe(res);
      },
    );
    upstreamReq.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstreamReq);
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    set(...next) {
      rules = next.map((r) => (isRule(r) ? r : { fault: r }));
    },
    clear() {
      rules = [];
    },
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
      }),
  };
}

/** Copies `from` to `to` at about `bytesPerSecond`, in slices every 50 ms. */
function trickle(
  from: IncomingMessage,
  to: ServerResponse,
  bytesPerSecond: number,
  later: (ms: number, fn: () => void) => void,
): void {
  const slice = Math.max(1, Math.floor(bytesPerSecond / 20));
  const pending: Buffer[] = [];
  let ended = false;
  let scheduled = false;
  const pump = () => {
    scheduled = false;
    let budget = slice;
    while (budget > 0 && pending.length > 0) {
      const head = pending[0]!;
      const part = head.subarray(0, budget);
      to.write(part);
      budget -= part.length;
      if (part.length === head.length) pending.shift();
      else pending[0] = head.subarray(part.length);
    }
    if (pending.length > 0) schedule();
    else if (ended) to.end();
  };
  const schedule = () => {
    if (scheduled || to.destroyed) return;
    scheduled = true;
    later(50, pump);
  };
  from.on('data', (chunk: Buffer) => {
    pending.push(chunk);
    schedule();
  });
  from.on('end', () => {
    ended = true;
    if (pending.length === 0) to.end();
    else schedule();
  });
}

function splitHost(hostPort: string): [string, number] {
  const i = hostPort.lastIndexOf(':');
  return [hostPort.slice(0, i), Number(hostPort.slice(i + 1))];
}
