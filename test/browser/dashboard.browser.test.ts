// The dashboard in a real browser (Debian's Chromium, playwright-core) against the local stack with real tasks: counts, actions, escaping, access.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PropertyFilter, type Datastore } from '@google-cloud/datastore';
import type { v2beta3 } from '@google-cloud/tasks';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serveDashboard, type ServedDashboard } from '../../src/dashboard/index.js';
import { PermanentTaskFailure } from '../../src/errors/index.js';
import { defineRecurringJob } from '../../src/jobs/recurring.js';
import { startLocalStack, startWorker, type LocalStack, type RunningWorker } from '../../src/local-stack/index.js';
import { MemoryLogger, silentLogger } from '../../src/core/logger.js';

import { launchBrowser } from '../support/browser.js';

const backend = (process.env.DEFERRED_BACKEND as 'datastore' | 'firestore' | undefined) ?? 'firestore';
/** Screenshots of every page (gitignored; CI keeps them as artifacts). */
export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'dashboard');
const DOCS = join(process.cwd(), 'docs', 'dashboard');
const HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';
/** A tenant's namespace: a transactional task written into its entity group fails there. */
const TENANT = 'acme-tenant';
/** The trace one failing task carries (as if deferred while a traced request was handled). */
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

let stack: LocalStack;
let worker: RunningWorker;
let served: ServedDashboard;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
let datastore: Datastore;
let tasksBeta: v2beta3.CloudTasksClient;
const ran: string[] = [];
/** The bug that makes chargeCard fail; fixed before its failure is retried from the page. */
let cardsDeclined = true;
const logger = new MemoryLogger();
/** Script errors and console errors of the page (a CSP violation is one): none may happen. */
const pageErrors: string[] = [];

async function countState(state: string): Promise<number> {
  let query = datastore.createQuery('_DeferredTask').select('__key__');
  if (state !== 'all') query = query.filter(new PropertyFilter('state', '=', state));
  const [rows] = await datastore.runQuery(query);
  return rows.length;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Saves a screenshot of the page as a test artifact; with UPDATE_DOCS_SCREENSHOTS=1 also as the README's picture. */
async function shot(name: string): Promise<void> {
  await page.$$eval('.toasts', (boxes) => boxes.forEach((box) => box.remove())); // the last actions' messages
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  if (process.env.UPDATE_DOCS_SCREENSHOTS === '1') {
    mkdirSync(DOCS, { recursive: true });
    copyFileSync(join(ARTIFACTS, `${name}.png`), join(DOCS, `${name}.png`));
  }
}

async function confirmIn(p: Page): Promise<void> {
  await p.locator('dialog[open] [data-confirm]').click();
}

describe(`dashboard in Chromium [${backend}]`, () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    stack = await startLocalStack({ backend });
    worker = await startWorker(stack, { config: { logger, shards: 2 }, sweeper: { shards: 2, log: silentLogger } });
    datastore = stack.datastore();
    const { deferred } = worker;
    const hello = deferred.task('hello', (name: string) => void ran.push(`hello ${name}`));
    const sendInvoice = deferred.task('sendInvoice', (invoice: { id: string; total: bigint; due: Date }) => {
      ran.push(`invoice ${invoice.id}`);
    });
    const chargeCard = deferred.task('chargeCard', (customer: string) => {
      if (cardsDeclined) throw new PermanentTaskFailure(`card of ${customer} declined`);
      ran.push(`charged ${customer}`);
    });
    const render = deferred.task('render', (html: string) => void ran.push(html));
    const nightly = defineRecurringJob(deferred, 'nightlyReport', { every: '1h' }, () => '42 rows');
    const cleanup = defineRecurringJob(deferred, 'cleanupSessions', { cron: '*/15 * * * *' }, () => 'ok');
    await Promise.all([nightly.ensure(), cleanup.ensure()]);

    // A history of distributed sweep runs, each reclaiming what finished shortly before it (1 s retention).
    const shortLived = deferred.task('importBatch', (n: number) => {
      if (n % 4 === 3) throw new PermanentTaskFailure(`batch ${n} has a malformed row`);
    });
    for (let k = 7; k >= 0; k--) {
      const batch = 1 + ((k * 5) % 4);
      for (let i = 0; i < batch; i++) await shortLived.with({ entityBacked: true, retention: '1s' }).defer(k * 10 + i);
      await until(
        'the batch to finish',
        async () => (await countState('pending')) === 0 && (await countState('running')) === 0,
      );
      await new Promise((r) => setTimeout(r, 1100));
      const { runId } = await worker.sweeper.fanOut(Date.now() - k * 15 * 60_000);
      await until(`sweep run ${runId}`, async () => (await worker.sweeper.readRun(runId))?.status === 'done');
    }

    // Real tasks: inline ones that run, entity-backed ones that run (done), later ones (pending), failures.
    const later = deferred.task('later', () => undefined);
    for (let i = 0; i < 3; i++) await hello.defer(`user-${i}`);
    for (let i = 0; i < 4; i++) {
      await sendInvoice.defer({ id: `inv-${i}`, total: 1999n + BigInt(i), due: new Date('2026-02-01T00:00:00Z') });
    }
    const entityBacked = (name: string) => ({ entityBacked: true, name });
    for (let i = 0; i < 4; i++) await later.with({ ...entityBacked(`later-${i}`), delay: '2h' }).defer();
    await deferred
      .task('done-eb', () => undefined)
      .with({ entityBacked: true })
      .defer();
    await deferred
      .task('chargeCard2', () => {
        throw new PermanentTaskFailure('no such account');
      })
      .with({ entityBacked: true, traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` })
      .defer();
    await chargeCard.with({ entityBacked: true }).defer('acme');
    await render.with({ entityBacked: true, delay: '1h' }).defer(HOSTILE);
    // A failure in a tenant's entity group (another namespace): the failed view names that namespace.
    const chargeTenant = deferred.task('chargeTenant', () => {
      throw new PermanentTaskFailure('tenant card declined');
    });
    await deferred.transaction(async (tx) => {
      tx.save({ key: datastore.key({ namespace: TENANT, path: ['Order', 't1'] }), data: { paid: false } });
      return tx.defer(chargeTenant);
    });
    await until(
      'the due tasks to finish',
      async () =>
        (await countState('failed')) === 2 &&
        (await countState('done')) >= 1 &&
        (await deferred.failures.list({ namespace: TENANT })).tasks.length === 1,
    );

    tasksBeta = stack.tasksEmulator.createClient({ version: 'v2beta3' });
    served = await serveDashboard({ deferred, tasksBeta, refreshMs: 60_000 });
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on('pageerror', (error) => void pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
  });

  afterEach(() => {
    expect(pageErrors.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await served?.close();
    await tasksBeta?.close();
    await stack?.tasksEmulator.stop();
    await worker?.close();
    await stack?.stop();
  });

  it('refuses a request without the access token, and one with a wrong token', async () => {
    const bare = await fetch(`${served.origin}/api/counts`);
    expect(bare.status).toBe(403);
    const wrong = await fetch(`${served.origin}/?token=not-the-token`, { redirect: 'manual' });
    expect(wrong.status).toBe(403);
    const response = await page.goto(`${served.origin}/`);
    expect(response?.status()).toBe(403);
    expect(await page.textContent('body')).toContain('deferred dashboard');
    // The browser reports the 403 in its console (and that of its own /favicon.ico request, when it makes one): those
    // errors are expected here, and no other.
    await page.waitForLoadState('networkidle');
    await expect.poll(() => pageErrors.length).toBeGreaterThanOrEqual(1);
    const errors = pageErrors.splice(0);
    expect(errors.length).toBeLessThanOrEqual(2);
    for (const error of errors) expect(error).toContain('status of 403');
  });

  it('opens with the token in the URL, then drops it from the address bar', async () => {
    await page.goto(served.url);
    expect(page.url()).toBe(`${served.origin}/`);
    await page.waitForSelector('[data-card="Pending"]');
  });

  it('shows the right counts on the overview', async () => {
    await page.waitForSelector('[data-queue="default"]');
    const card = async (label: string) => (await page.textContent(`[data-card="${label}"]`))?.trim();
    expect(await card('Pending')).toBe(String(await countState('pending')));
    expect(await card('Pending')).toBe('5'); // 4 later + the render task
    expect(await card('Failed')).toBe('2');
    expect(await card('Done')).toBe(String(await countState('done')));
    expect(await card('Running')).toBe('0');
    expect(await card('Sweeper behind by')).toBe('up to date');
    const queueRow = page.locator('[data-queue="default"]');
    await expect.poll(() => queueRow.locator('td').nth(1).textContent()).toBe('running');
    // Cloud Tasks holds the 5 delayed tasks and the two recurring jobs' next ticks.
    expect(await queueRow.locator('td').nth(2).textContent()).toMatch(/^7/);
    const unfinished = await page.textContent('[data-ages="unfinished"]');
    expect(unfinished).toContain('< 1h');
    // The tenant's namespace, with links to its tasks and failures.
    const tenantRow = page.locator(`tr[data-namespace="${TENANT}"]`);
    expect(await tenantRow.locator('a', { hasText: 'Failed' }).getAttribute('href')).toBe(
      `#/failed?namespace=${TENANT}`,
    );
    await shot('overview');
  });

  it('refuses a change without the CSRF token, and it changes nothing', async () => {
    const cookies = await browser.context.cookies(served.origin);
    const cookieHeader = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    const attempt = await fetch(`${served.origin}/api/queues/pause`, {
      method: 'POST',
      headers: { cookie: cookieHeader, 'content-type': 'application/json' },
      body: JSON.stringify({ queue: 'default' }),
    });
    expect(attempt.status).toBe(403);
    expect(((await attempt.json()) as { error: string }).error).toMatch(/CSRF/);
    const [queue] = await stack.tasksClient().getQueue({ name: stack.queuePath('default') });
    expect(queue.state).toBe('RUNNING');
  });

  it('pauses and resumes a queue from the page', async () => {
    const row = page.locator('[data-queue="default"]');
    await row.locator('[data-action="pause-queue"]').click();
    await confirmIn(page);
    const client = stack.tasksClient();
    await until(
      'the queue to pause',
      async () => (await client.getQueue({ name: stack.queuePath('default') }))[0].state === 'PAUSED',
    );
    await expect.poll(() => row.locator('td').nth(1).textContent()).toBe('paused');
    await row.locator('[data-action="resume-queue"]').click();
    await confirmIn(page);
    await until(
      'the queue to resume',
      async () => (await client.getQueue({ name: stack.queuePath('default') }))[0].state === 'RUNNING',
    );
  });

  it('shows a task argument holding <script> as text, and it does not run', async () => {
    await page.goto(`${served.origin}/#/tasks?state=pending`);
    await page.waitForSelector('tr[data-key]');
    await shot('tasks');
    const row = page.locator('tr[data-key]', { hasText: 'render' });
    await row.click();
    await page.waitForSelector('[data-args="decoded"]');
    expect(await page.textContent('[data-args="decoded"]')).toContain(HOSTILE);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('main script, main img').count()).toBe(0);
    expect(await page.textContent('[data-verdict]')).toMatch(/^keep/);
    await shot('task');
  });

  it('lists failed tasks', async () => {
    await page.goto(`${served.origin}/#/failed`);
    await page.waitForSelector('tr[data-key]');
    expect(await page.locator('tr[data-key]').count()).toBe(2);
    expect(await page.textContent('main')).toContain('card of acme declined');
    expect(await page.textContent('[data-elsewhere]')).toContain(
      `Also failed tasks matching this filter in: namespace ${TENANT}. This page lists one namespace at a time`,
    );
    expect(await page.textContent('[data-elsewhere]')).toContain('deferred failed --all-namespaces');
    await shot('failed');
  });

  it("shows a tenant's failures in its namespace, discards one from its task page, and goes back by the picker", async () => {
    await page.goto(`${served.origin}/#/failed`);
    await page.locator(`[data-elsewhere] a[data-namespace="${TENANT}"]`).click();
    await page.waitForURL(new RegExp(`#/failed\\?namespace=${TENANT}$`));
    const row = page.locator('tr[data-key]', { hasText: 'tenant card declined' });
    await row.waitFor();
    expect(await page.locator('tr[data-key]').count()).toBe(1);
    expect(await page.inputValue('select[name="namespace"]')).toBe(TENANT);
    // The runtime's own namespace holds failures too: the line under the list names it.
    expect(await page.textContent('[data-elsewhere]')).toContain("in: the default namespace (this runtime's).");
    await shot('failed-namespace');
    await row.click();
    await page.waitForSelector('[data-action="discard"]');
    expect(await page.textContent('.page-title [data-namespace]')).toBe(`namespace ${TENANT}`);
    await shot('failed-namespace-task');
    await page.locator('[data-action="discard"]').click();
    await confirmIn(page);
    const tenantFailures = async () => (await worker.deferred.failures.list({ namespace: TENANT })).tasks.length;
    await until('the tenant record to be gone', async () => (await tenantFailures()) === 0);
    await page.waitForURL(new RegExp(`#/failed\\?namespace=${TENANT}$`));
    await page.waitForSelector('text=No failed tasks match.');
    expect(await countState('failed')).toBe(2); // the runtime's own were left alone
    await page.selectOption('select[name="namespace"]', { index: 0 });
    await page.waitForURL(/#\/failed$/);
    await expect.poll(() => page.locator('tr[data-key]').count()).toBe(2);
  });

  it('retries a failed task from the page, and it then runs (once)', async () => {
    cardsDeclined = false; // the bug is fixed
    await page.goto(`${served.origin}/#/failed`);
    const row = page.locator('tr[data-key]', { hasText: 'card of acme declined' });
    await row.locator('input[data-select]').check();
    await page.locator('[data-action="retry-selected"]').click();
    await confirmIn(page);
    await until('the retried task to run', async () => ran.includes('charged acme'));
    await until('the record to be retried', async () => (await countState('retried')) === 1);
    await row.waitFor({ state: 'detached' });
    expect(ran.filter((r) => r === 'charged acme')).toHaveLength(1);
  });

  it('discards a failure record from its task page', async () => {
    await page.goto(`${served.origin}/#/failed`);
    await page.locator('tr[data-key]', { hasText: 'no such account' }).click();
    await page.waitForSelector('[data-action="discard"]');
    // Its attempt links to its run's log lines and its trace in the Google Cloud console, in a new tab.
    const logs = page.locator('a[data-link="logs"]');
    expect(await logs.count()).toBe(1);
    const href = (await logs.getAttribute('href'))!;
    expect(href.startsWith('https://console.cloud.google.com/logs/query;query=')).toBe(true);
    expect(new URL(href).searchParams.get('project')).toBe(stack.projectId);
    const query = decodeURIComponent(href.split(';query=')[1]!.split('?')[0]!);
    expect(query).toMatch(
      new RegExp(
        `^trace="projects/${stack.projectId}/traces/${TRACE_ID}" AND spanId="00f067aa0ba902b7" AND labels\\.task="chargeCard2" AND labels\\.attempt="1" AND timestamp>=`,
      ),
    );
    expect(await logs.locator('..').getAttribute('title')).toBe(query);
    expect(await logs.getAttribute('rel')).toBe('noopener noreferrer');
    expect(await page.locator('a[data-link="trace"]').getAttribute('href')).toBe(
      `https://console.cloud.google.com/traces/list?tid=${TRACE_ID}&project=${stack.projectId}`,
    );
    await shot('failed-task');
    await page.locator('[data-action="discard"]').click();
    await confirmIn(page);
    await until('the record to be gone', async () => (await countState('failed')) === 0);
    await page.waitForURL(/#\/failed/);
  });

  it('disables a recurring job from the page', async () => {
    await page.goto(`${served.origin}/#/jobs`);
    const row = page.locator('[data-job="nightlyReport"]');
    await row.waitFor();
    await row.locator('[data-action="disable"]').click();
    await confirmIn(page);
    await until('the job record to be disabled', async () => {
      const [record] = await datastore.get(datastore.key(['DeferredRecurringJob', 'nightlyReport']));
      return record?.enabled === false;
    });
    await expect.poll(() => row.locator('td').nth(1).textContent()).toBe('disabled');
    await shot('jobs');
    await row.locator('[data-action="enable"]').click();
    await until('the job record to be enabled', async () => {
      const [record] = await datastore.get(datastore.key(['DeferredRecurringJob', 'nightlyReport']));
      return record?.enabled === true;
    });
    expect(logger.entries.some((e) => e.event === 'dashboard-action' && e.action === 'jobs/disable')).toBe(true);
  });

  it('sweeps: a dry run first, then for real', async () => {
    await page.goto(`${served.origin}/#/sweeper`);
    await page.locator('[data-action="dry-run"]').click();
    await page.waitForSelector('[data-stat="scanned"]');
    expect(await page.locator('[data-action="sweep-now"]').isEnabled()).toBe(true);
    await shot('sweeper');
    const before = await countState('all');
    await page.locator('[data-action="sweep-now"]').click();
    await confirmIn(page);
    await page.waitForSelector('text=Sweep done');
    expect(await countState('all')).toBeLessThanOrEqual(before);
  });

  it('pages through the pending tasks with Next and Previous', async () => {
    const parked = worker.deferred.task('parked', (n: number) => void ran.push(`parked ${n}`));
    await parked.with({ entityBacked: true, delay: '2h' }).deferMany(Array.from({ length: 30 }, (_, n) => [n]));
    const pending = await countState('pending'); // 30, and the earlier tests' later and render tasks
    await page.goto(`${served.origin}/#/tasks?state=pending`);
    const rows = page.locator('tr[data-key]');
    const previous = page.locator('button', { hasText: 'Previous' });
    const next = page.locator('button', { hasText: 'Next' });
    await page.waitForSelector('text=page 1');
    expect(await rows.count()).toBe(25);
    expect(await previous.isEnabled()).toBe(false);
    const first = await rows.first().getAttribute('data-key');
    await next.click();
    await page.waitForSelector('text=page 2');
    expect(await rows.count()).toBe(pending - 25);
    expect(await previous.isEnabled()).toBe(true);
    expect(await rows.first().getAttribute('data-key')).not.toBe(first);
    await previous.click();
    await page.waitForSelector('text=page 1');
    expect(await rows.first().getAttribute('data-key')).toBe(first);
  });
});
