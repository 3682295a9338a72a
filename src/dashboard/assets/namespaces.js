// @ts-check
/** Which Datastore namespace a view shows (the dashboard's own, or a tenant's its runtime writes to), the links that keep it, and the picker that changes it. */
import { h } from './dom.js';

/**
 * The namespace a view shows: its `namespace` parameter (present but empty: Datastore's default namespace), else the
 * dashboard's own.
 * @param {URLSearchParams} params
 * @param {import('./app.js').Context} ctx
 * @returns {string}
 */
export function viewNamespace(params, ctx) {
  return params.get('namespace') ?? ctx.summary.namespace;
}

/**
 * The parameters that name `namespace` in a read or a link: none for the dashboard's own.
 * @param {string} namespace
 * @param {import('./app.js').Context} ctx
 * @returns {Record<string, string>}
 */
export function namespaceParams(namespace, ctx) {
  return namespace === ctx.summary.namespace ? {} : { namespace };
}

/**
 * A link to a route of the page in `namespace`, with `params`.
 * @param {string} route e.g. `task`
 * @param {Record<string, string>} params
 * @param {string} namespace
 * @param {import('./app.js').Context} ctx
 */
export function hrefIn(route, params, namespace, ctx) {
  const query = new URLSearchParams({ ...params, ...namespaceParams(namespace, ctx) });
  const q = query.toString();
  return `#/${route}${q ? `?${q}` : ''}`;
}

/**
 * How a namespace reads on the page: `namespace acme`, `the default namespace`, the dashboard's own marked so.
 * @param {string} namespace
 * @param {import('./app.js').Context} ctx
 */
export function namespaceLabel(namespace, ctx) {
  const name = namespace === '' ? 'the default namespace' : `namespace ${namespace}`;
  return namespace === ctx.summary.namespace ? `${name} (this runtime's)` : name;
}

/**
 * A choice of the namespaces the dashboard shows (none when it shows only its own); choosing one calls `open` with it.
 * @param {string} current
 * @param {import('./app.js').Context} ctx
 * @param {(namespace: string) => void} open
 */
export function namespacePicker(current, ctx, open) {
  const shown = ctx.summary.namespaces;
  if (shown.length < 2 && shown.includes(current)) return null;
  const choices = shown.includes(current) ? shown : [...shown, current];
  const select = h(
    'select',
    { name: 'namespace', 'aria-label': 'namespace', title: 'Datastore namespace' },
    choices.map((namespace) =>
      h('option', { value: namespace, selected: namespace === current }, namespaceLabel(namespace, ctx)),
    ),
  );
  select.addEventListener('change', () => open(select.value));
  return select;
}
