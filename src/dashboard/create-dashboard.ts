/** Creating a dashboard for the app's own server: one framework-independent core behind the node:http and Fetch adapters. */
import type { FetchHandler, NodeHandler } from '../types.js';
import type { DashboardOptions } from './dashboard-options.js';
import { DashboardCore } from './dashboard-core.js';
import { fetchDashboardHandler } from './fetch-dashboard.js';
import { nodeDashboardHandler } from './node-dashboard.js';

/** A dashboard, ready to mount. */
export interface Dashboard {
  /** node:http request listener and Express/Connect middleware (`next()` for paths outside `basePath`). */
  readonly handler: NodeHandler;
  /** Fetch-API handler (Hono, Bun, Deno, Next.js route handlers); 404 outside `basePath`. */
  readonly fetchHandler: FetchHandler;
  /** Where it is mounted, e.g. `/_dashboard`. */
  readonly basePath: string;
}

/**
 * Creates the dashboard for the app's own server. It refuses to start without `authorize`.
 *
 * @example
 * import { createDashboard } from 'cloud-deferred/dashboard';
 * const dashboard = createDashboard({
 *   deferred,
 *   authorize: (req) => (req as express.Request).get('x-goog-authenticated-user-email') === 'accounts.google.com:ops@example.com',
 * });
 * app.use(dashboard.handler); // serves /_dashboard/
 */
export function createDashboard(options: DashboardOptions): Dashboard {
  const core = new DashboardCore(options);
  return {
    handler: nodeDashboardHandler(core),
    fetchHandler: fetchDashboardHandler(core),
    basePath: core.basePath || '/',
  };
}
