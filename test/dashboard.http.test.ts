// createDashboard's HTTP surface on node:http and Fetch: authorize required, security headers, escaping, CSRF, origin checks, read-only.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { createDashboard, serveDashboard } from '../src/dashboard/index.js';
import { PermanentTaskFailure } from '../src/errors/index.js';
import { clearNamespace, describeStorage } from './support/backends.js';
import { fetchToNode, useRuntime, type RuntimeFixture } from './support/runtime.js';

const setup = useRuntime();
const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function serve(listener: http.RequestListener): Promise<string> {
  const server = http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Opens the page like a browser: the session cookie and the CSRF token from its meta tag. */
async function openPage(origin: string, base = '/_dashboard') {
  const page = await fetch(`${origin}${base}/`);
  const html = await page.text();
  const csrf = /name="deferred-csrf" content="([^"]+)"/.exec(html)?.[1];
  const cookie = page.headers.get('set-cookie')?.split(';')[0] ?? '';
  return { page, html, csrf, cookie };
}

async function queueState(rt: RuntimeFixture) {
  const [queue] = await rt.client.getQueue({ name: rt.queuePath });
  return queue.state;
}

/** The parts of the API's JSON answers the tests look at. */
interface Answer {
  readonly [field: string]: unknown;
  readonly error?: string;
  readonly rows: readonly { readonly key: string; readonly task: string }[];
  readonly results: readonly { readonly status: string }[];
}

describeStorage('createDashboard', (ctx) => {
  it('answers 403 when authorize says no, and passes the native request to it', async () => {
    const rt = await setup(ctx());
    const seen: unknown[] = [];
    const dashboard = createDashboard({
      deferred: rt.deferred,
      authorize: (req) => {
        seen.push(req);
        return (req as http.IncomingMessage).headers['x-user'] === 'ops' ? 'ops@example.com' : false;
      },
    });
    const origin = await serve(dashboard.handler);
    const denied = await fetch(`${origin}/_dashboard/api/counts`);
    expect(denied.status).toBe(403);
    expect(await denied.text()).not.toContain('pending');
    expect(seen[0]).toBeInstanceOf(http.IncomingMessage);
    const allowed = await fetch(`${origin}/_dashboard/api/counts`, { headers: { 'x-user': 'ops' } });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toMatchObject({ total: 0 });
    const thrown = createDashboard({
      deferred: rt.deferred,
      authorize: () => {
        throw new Error('session store down');
      },
    });
    const broken = await serve(thrown.handler);
    expect((await fetch(`${broken}/_dashboard/`)).status).toBe(500);
  });

  it('serves its own page and assets with a strict Content-Security-Policy, escaping what it inserts', async () => {
    const rt = await setup(ctx());
    const dashboard = createDashboard({
      deferred: rt.deferred,
      authorize: () => true,
      title: '<script>alert(1)</script>',
    });
    const origin = await serve(dashboard.handler);
    const { page, html } = await openPage(origin);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    // Every script and style sheet is the dashboard's own, from its own origin.
    for (const [, src] of html.matchAll(/(?:src|href)="([^"]+)"/g)) expect(src).toMatch(/^\/_dashboard\/assets\//);
    const script = await fetch(`${origin}/_dashboard/assets/app.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).not.toMatch(/https?:\/\//);
    expect((await fetch(`${origin}/_dashboard/assets/../options.ts`)).status).toBe(404);
    expect((await fetch(`${origin}/_dashboard`, { redirect: 'manual' })).headers.get('location')).toBe('/_dashboard/');
  });

  it('changes only with the CSRF token of the browser session, from the same origin', async () => {
    const rt = await setup(ctx());
    await rt.client.createQueue({ parent: rt.queuePath.replace(/\/queues\/.*/, ''), queue: { name: rt.queuePath } });
    const origin = await serve(createDashboard({ deferred: rt.deferred, authorize: () => true }).handler);
    const { csrf, cookie } = await openPage(origin);
    const pause = (headers: Record<string, string>, body = JSON.stringify({ queue: rt.queue })) =>
      fetch(`${origin}/_dashboard/api/queues/pause`, { method: 'POST', headers, body });
    const json = { 'content-type': 'application/json' };

    expect((await pause({ ...json, cookie })).status).toBe(403); // no token
    expect((await pause({ ...json, 'x-deferred-csrf': csrf! })).status).toBe(403); // token without its session
    expect((await pause({ ...json, cookie, 'x-deferred-csrf': `${csrf!.slice(0, -2)}xx` })).status).toBe(403);
    expect((await pause({ cookie, 'x-deferred-csrf': csrf!, 'content-type': 'text/plain' })).status).toBe(415);
    const foreign = await pause({ ...json, cookie, 'x-deferred-csrf': csrf!, origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect((await pause({ ...json, cookie, 'x-deferred-csrf': csrf!, 'sec-fetch-site': 'cross-site' })).status).toBe(
      403,
    );
    expect(await queueState(rt)).toBe('RUNNING');
    // A GET never changes anything.
    expect((await fetch(`${origin}/_dashboard/api/queues/pause?queue=${rt.queue}`)).status).toBe(404);
    expect(await queueState(rt)).toBe('RUNNING');

    const ok = await pause({ ...json, cookie, 'x-deferred-csrf': csrf!, origin });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ state: 'PAUSED' });
    expect(await queueState(rt)).toBe('PAUSED');
    expect(rt.logger.entries.find((e) => e.event === 'dashboard-action')).toMatchObject({
      action: 'queues/pause',
      target: rt.queue,
    });
  });

  it('read-only: every change is refused', async () => {
    const rt = await setup(ctx());
    const origin = await serve(
      createDashboard({ deferred: rt.deferred, authorize: () => true, readOnly: true }).handler,
    );
    const { csrf, cookie, html } = await openPage(origin);
    expect(html).toContain('deferred-csrf');
    const response = await fetch(`${origin}/_dashboard/api/sweep`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, 'x-deferred-csrf': csrf! },
      body: JSON.stringify({ dryRun: false }),
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ error: 'this dashboard is read-only.' });
    expect(await (await fetch(`${origin}/_dashboard/api/summary`)).json()).toMatchObject({ readOnly: true });
  });

  it('the failure ledger: lists by filter, a dry run changes nothing, a retry replays once, a discard deletes', async () => {
    const rt = await setup(ctx());
    let fixed = false;
    let charged = 0;
    const charge = rt.deferred.task('charge', (account: string) => {
      if (!fixed) throw new PermanentTaskFailure(`card of ${account} declined`);
      charged++;
    });
    const other = rt.deferred.task('other', () => {
      throw new PermanentTaskFailure('no such account');
    });
    await charge.with({ entityBacked: true }).defer('acme');
    await other.with({ entityBacked: true }).defer();
    await rt.advance(0);
    const origin = await serve(createDashboard({ deferred: rt.deferred, authorize: () => 'ops@example.com' }).handler);
    const { csrf, cookie } = await openPage(origin);
    const post = (action: string, body: unknown) =>
      fetch(`${origin}/_dashboard/api/failed/${action}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie, 'x-deferred-csrf': csrf! },
        body: JSON.stringify(body),
      }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { message: string; results: { status: string }[] },
      }));

    type Listed = { rows: { key: string; task: string; lastError: string }[] };
    const listed = (await (await fetch(`${origin}/_dashboard/api/failed?task=charge`)).json()) as Listed;
    expect(listed.rows).toMatchObject([
      { task: 'charge', lastError: expect.stringContaining('card of acme declined') },
    ]);
    const key = listed.rows[0]!.key;
    const record = (await (
      await fetch(`${origin}/_dashboard/api/failed/one?key=${encodeURIComponent(key)}`)
    ).json()) as {
      state: string;
      history: { outcome: string }[];
      args: string;
    };
    expect(record).toMatchObject({ state: 'failed', history: [{ outcome: 'failed' }] });
    expect(record.args).toContain("'acme'");

    const dry = await post('retry', { filter: { task: 'charge' }, dryRun: true });
    expect(dry.body.results).toMatchObject([{ status: 'would-retry' }]);
    await rt.advance(0);
    expect(charged).toBe(0);

    fixed = true;
    const first = await post('retry', { keys: [key] });
    const second = await post('retry', { keys: [key] });
    expect(first.body.results).toMatchObject([{ status: 'retried' }]);
    expect(second.body.results).toMatchObject([{ status: 'already-retried' }]);
    await rt.advance(0);
    expect(charged).toBe(1);
    // Each change is logged with the user authorize() named: the dry run and both retries.
    const logged = rt.logger.entries.filter((e) => e.event === 'dashboard-action' && e.action === 'failed/retry');
    expect(logged.map((e) => e.user)).toEqual(['ops@example.com', 'ops@example.com', 'ops@example.com']);

    const discarded = await post('discard', { filter: { task: 'other' } });
    expect(discarded.body.results).toMatchObject([{ status: 'discarded' }]);
    const left = (await (await fetch(`${origin}/_dashboard/api/failed`)).json()) as Listed;
    expect(left.rows).toEqual([]);
    expect((await post('retry', {})).status).toBe(400); // neither keys nor a filter
  });

  it("the registry's other namespaces: listed, read and changed by their name, any other refused", async () => {
    const rt = await setup(ctx());
    const home = ctx().namespace;
    const tenant = `${home}-acme`;
    try {
      let fixed = false;
      const charged: string[] = [];
      const charge = rt.deferred.task('charge', (order: string) => {
        if (!fixed) throw new PermanentTaskFailure(`card for ${order} declined`);
        charged.push(order);
      });
      await rt.deferred.transaction(async (tx) => {
        tx.save({ key: ctx().datastore.key({ namespace: tenant, path: ['Order', 'o1'] }), data: { paid: false } });
        return tx.defer(charge, 'o1');
      });
      await rt.advance(0);
      const origin = await serve(createDashboard({ deferred: rt.deferred, authorize: () => true }).handler);
      const { csrf, cookie } = await openPage(origin);
      const api = (path: string) =>
        fetch(`${origin}/_dashboard/api/${path}`).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as Answer,
        }));
      const post = (action: string, body: unknown) =>
        fetch(`${origin}/_dashboard/api/failed/${action}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', cookie, 'x-deferred-csrf': csrf! },
          body: JSON.stringify(body),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as Answer }));
      const ns = encodeURIComponent(tenant);

      expect((await api('summary')).body).toMatchObject({ namespace: home, namespaces: [home, tenant] });
      const own = await api('failed');
      expect(own.body).toMatchObject({ namespace: home, rows: [], elsewhere: [tenant] });
      const there = await api(`failed?namespace=${ns}`);
      // Viewing the tenant's, the elsewhere line names no namespace: the runtime's own holds no failure.
      expect(there.body).toMatchObject({ namespace: tenant, elsewhere: [], rows: [{ task: 'charge' }] });
      const key = there.body.rows[0]!.key;
      expect((await api(`failed/one?key=${encodeURIComponent(key)}&namespace=${ns}`)).body).toMatchObject({
        state: 'failed',
      });
      expect((await api(`task?key=${encodeURIComponent(key)}&namespace=${ns}`)).body).toMatchObject({ task: 'charge' });
      const notHere = await api(`task?key=${encodeURIComponent(key)}`);
      expect(notHere.status).toBe(404);
      expect(notHere.body.error).toContain(`in namespace "${home}"`);
      expect((await api(`tasks?state=failed&namespace=${ns}`)).body.rows).toMatchObject([{ key }]);

      // A namespace the registry does not name is refused, reads and changes alike, and nothing changes.
      for (const path of [
        `failed?namespace=elsewhere`,
        `tasks?namespace=`,
        `task?key=${encodeURIComponent(key)}&namespace=x`,
      ]) {
        const refused = await api(path);
        expect(refused.status).toBe(400);
        expect(refused.body.error).toMatch(
          /is not one this dashboard shows: it shows namespace ".+" \(its runtime's\) and the ones its runtime writes task entities to: ".+-acme"\./,
        );
      }
      const refusedChange = await post('discard', { keys: [key], namespace: 'elsewhere' });
      expect(refusedChange.status).toBe(400);
      expect((await post('discard', { keys: [key], namespace: 42 })).body.error).toMatch(/namespace must be text/);
      expect((await post('discard', { keys: [key] })).body.results).toMatchObject([{ status: 'missing' }]); // home
      expect((await api(`failed?namespace=${ns}`)).body.rows).toHaveLength(1);

      fixed = true;
      const dry = await post('retry', { filter: { task: 'charge' }, namespace: tenant, dryRun: true });
      expect(dry.body).toMatchObject({
        results: [{ status: 'would-retry' }],
        target: expect.stringContaining(`in namespace "${tenant}"`),
      });
      const retried = await post('retry', { keys: [key], namespace: tenant });
      expect(retried.body.results).toMatchObject([{ status: 'retried' }]);
      await rt.advance(0);
      expect(charged).toEqual(['o1']);
      expect((await api(`failed?namespace=${ns}`)).body.rows).toEqual([]);
      const logged = rt.logger.entries.filter((e) => e.event === 'dashboard-action' && e.action === 'failed/retry');
      expect(logged.at(-1)?.message).toContain(`${key} in namespace "${tenant}"`);
    } finally {
      await clearNamespace(ctx().datastore, tenant);
    }
  });

  it('without a runtime: no ledger, and nothing that creates Cloud Tasks', async () => {
    const rt = await setup(ctx());
    const { datastore } = ctx();
    const dashboard = createDashboard({
      datastore,
      tasks: rt.client,
      projectId: 'test-project',
      location: 'us-central1',
      authorize: () => true,
    });
    const origin = await serve(dashboard.handler);
    expect(await (await fetch(`${origin}/_dashboard/api/summary`)).json()).toMatchObject({
      ledger: false,
      canCreateTasks: false,
    });
    const failed = await fetch(`${origin}/_dashboard/api/failed`);
    expect(failed.status).toBe(404);
    expect(((await failed.json()) as { error: string }).error).toMatch(/failure ledger/);
  });

  it('works the same on the Fetch API, and hands other paths on as middleware', async () => {
    const rt = await setup(ctx());
    const dashboard = createDashboard({
      deferred: rt.deferred,
      authorize: (req) => req instanceof Request,
      basePath: '/ops/tasks/',
    });
    const origin = await serve(fetchToNode(dashboard.fetchHandler));
    const { page, csrf, cookie } = await openPage(origin, '/ops/tasks');
    expect(page.status).toBe(200);
    const summary = await (await fetch(`${origin}/ops/tasks/api/summary`)).json();
    expect(summary).toMatchObject({ projectId: 'test-project', location: 'us-central1', canCreateTasks: true });
    const dry = await fetch(`${origin}/ops/tasks/api/sweep`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, 'x-deferred-csrf': csrf! },
      body: JSON.stringify({ dryRun: true }),
    });
    expect(await dry.json()).toMatchObject({ dryRun: true, stats: { scanned: 0 } });
    expect((await fetch(`${origin}/elsewhere`)).status).toBe(404);
    let passed = false;
    const node = await serve((req, res) =>
      dashboard.handler(req, res, () => {
        passed = true;
        res.end('app');
      }),
    );
    expect(await (await fetch(`${node}/other`)).text()).toBe('app');
    expect(passed).toBe(true);
  });
});

it('serveDashboard listens on loopback only, behind its token', async () => {
  await expect(
    serveDashboard({ host: '0.0.0.0', datastore: {} as never, tasks: {} as never, projectId: 'p', location: 'l' }),
  ).rejects.toThrow(/loopback only/);
});
