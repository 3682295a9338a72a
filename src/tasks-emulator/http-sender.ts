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
    let url: URL;
    try {
      url = new URL(request.url);
    } catch (error) {
      return Promise.resolve({ kind: 'unreachable', message: `invalid URL: ${(error as Error).message}` });
    }
    const isHttps = url.protocol === 'https:';
    const body = request.body && request.body.length > 0 ? request.body : undefined;
    // A raw header list keeps the names' case, but then Node adds no Host header by itself.
    const flatHeaders: string[] = ['Host', url.host];
    for (const [name, value] of request.headers) flatHeaders.push(name, value);
    if (body) flatHeaders.push('Content-Length', String(body.length));

    return new Promise<AttemptOutcome>((resolve) => {
      let settled = false;
      let current: http.ClientRequest | undefined;
      const finish = (outcome: AttemptOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (current) this.inFlight.delete(current);
        resolve(this.closed ? { kind: 'aborted' } : outcome);
      };
      const timer = setTimeout(() => {
        finish({ kind: 'deadline' });
        current?.destroy();
      }, request.deadlineMs);
      timer.unref();

      const fire = (isRetry: boolean) => {
        let req: http.ClientRequest;
        try {
          req = (isHttps ? https : http).request(url, {
            method: request.method,
            headers: flatHeaders,
            agent: isHttps ? this.httpsAgent : this.httpAgent,
          });
        } catch (error) {
          // Node refuses what cannot go on the wire (a CR or LF in a header, a bad method): a failed attempt, never a throw.
          finish({ kind: 'unreachable', message: `the request cannot be sent: ${(error as Error).message}` });
          return;
        }
        current = req;
        this.inFlight.add(req);
        let answered = false;
        req.on('response', (res) => {
          answered = true;
          res.resume();
          res.on('error', () => undefined);
          // The attempt's outcome is the status line; the body is drained and ignored, as by the real service.
          finish({ kind: 'response', status: res.statusCode ?? 0 });
        });
        req.on('error', (error: NodeJS.ErrnoException) => {
          this.inFlight.delete(req);
          // A kept-alive connection the handler's server closed meanwhile: send again once on a new connection.
          if (!answered && !settled && !isRetry && req.reusedSocket && error.code === 'ECONNRESET') fire(true);
          else finish({ kind: 'unreachable', message: error.message });
        });
        req.on('close', () => {
          if (!answered && current === req) finish({ kind: 'unreachable', message: 'connection closed' });
        });
        try {
          req.end(body);
        } catch (error) {
          req.destroy();
          finish({ kind: 'unreachable', message: `the request cannot be sent: ${(error as Error).message}` });
        }
      };
      fire(false);
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
