/** The dashboard entry point (`cloud-deferred/dashboard`): the whole system on one page, mountable in the app or served on loopback. */
export { createDashboard, type Dashboard } from './create-dashboard.js';
export type { Authorize, DashboardOptions, DashboardRequest } from './dashboard-options.js';
export { serveDashboard, type ServeDashboardOptions, type ServedDashboard } from './local-server.js';
export { CONTENT_SECURITY_POLICY } from './dashboard-core.js';
