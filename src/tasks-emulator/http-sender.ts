/** Sends one task attempt as an HTTP request over Node's http/https, with a deadline, and reports what came back. */
import http from 'node:http';
import https from 'node:https';

/** One outgoing attempt. */
export interface OutgoingRequest {
  readonly url: string;
  readonly method: string;
  /** Header names keep their case on the wire. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer | undefined;
  /** The attempt fails (no response) if the handler has not answered within this many wall-clock milliseconds. */
  readonly deadlineMs: number;
}

/** How an attempt ended: a response status, or no response (deadline, connection error, abort). */
export type AttemptOutcome =
  | { readonly kind: 'response'; readonly status: number }
  | { readonly kind: 'deadline' }
  | { readonly kind: 'unreachable'; readonly message: string }
  | { readonly kind: 'aborted' };

/** Owns the keep-alive agents and the in-flight requests, so stop() can abort them all. */
export class HttpSender {
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent = new https.Agent({ keepAlive: true });
  private readonly inFlight = new Set<http.ClientRequest>();
  private closed = false;

  /** Sends the request; never rejects. */
  send(request: OutgoingRequest): Promise<AttemptOutcome> {
    if (this.closed) return Promise.resolve({ kind: 'aborted' });
    return new Promise<AttemptOutcome>((resolve) => {
      let settled = false;
      const finish = (outcome: AttemptOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inFlight.delete(req);
        resolve(outcome);
      };
      let url: URL;
      try {
        url = new URL(request.url);
      } catch (error) {
        resolve({ kind: 'unreachable', message: `invalid URL: ${(error as Error).message}` });
        return;
      }
      const isHttps = url.protocol === 'https:';
      // A raw header list keeps the names' case, but then Node adds no Host header by itself.
      const flatHeaders: string[] = ['Host', url.host];
      for (const [name, value] of request.headers) flatHeaders.push(name, value);
      if (request.body && request.body.length > 0) flatHeaders.push('Content-Length', String(request.body.length));
      const req = (isHttps ? https : http).request(url, {
        method: request.method,
        headers: flatHeaders,
        agent: isHttps ? this.httpsAgent : this.httpAgent,
      });
      this.inFlight.add(req);
      const timer = setTimeout(() => {
        finish({ kind: 'deadline' });
        req.destroy();
      }, request.deadlineMs);
      timer.unref();
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        res.on('error', () => undefined);
        // The attempt's outcome is the status line; the body is drained and ignored, as by the real service.
        finish({ kind: 'response', status });
      });
      req.on('error', (error) => {
        finish(this.closed ? { kind: 'aborted' } : { kind: 'unreachable', message: error.message });
      });
      req.on('close', () => finish(this.closed ? { kind: 'aborted' } : { kind: 'unreachable', message: 'closed' }));
      req.end(request.body && request.body.length > 0 ? request.body : undefined);
    });
  }

  /** Aborts every in-flight request and closes idle connections. */
  close(): void {
    this.closed = true;
    for (const req of this.inFlight) req.destroy();
    this.inFlight.clear();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
