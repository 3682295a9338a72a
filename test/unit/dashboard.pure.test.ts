// The dashboard's pure pieces: options checks (authorize required), CSRF tokens, cookies, HTML escaping, the key form of the task view, the namespace a request names.
import { Datastore } from '@google-cloud/datastore';
import { describe, expect, it } from 'vitest';
import { checkCsrf, cookie, csrfToken, parseCookies } from '../../src/dashboard/csrf.js';
import { createDashboard, type DashboardOptions } from '../../src/dashboard/index.js';
import { checkDashboardOptions, normalizeBasePath } from '../../src/dashboard/dashboard-options.js';
import { escapeHtml, pageHtml } from '../../src/dashboard/page.js';
import { keyArg } from '../../src/dashboard/tasks.js';
import { pickNamespace } from '../../src/dashboard/namespaces.js';
import { parseTaskKey } from '../../src/store/key-text.js';
import { ConfigurationError } from '../../src/errors/index.js';

describe('createDashboard options', () => {
  it('refuses to start without authorize, naming what to do', () => {
    expect(() => createDashboard({} as DashboardOptions)).toThrow(ConfigurationError);
    expect(() => checkDashboardOptions(undefined)).toThrow(/authorize\(request\) function/);
    expect(() => checkDashboardOptions({ authorize: 'yes' } as unknown as DashboardOptions)).toThrow(/authorize/);
  });

  it('refuses a short CSRF secret, a bad refresh and a base path with odd characters', () => {
    const authorize = () => true;
    expect(() => checkDashboardOptions({ authorize, csrfSecret: 'short' })).toThrow(/16 or more/);
    expect(() => checkDashboardOptions({ authorize, refreshMs: 10 })).toThrow(/refreshMs/);
    expect(() => checkDashboardOptions({ authorize, basePath: '/a b' })).toThrow(/basePath/);
    expect(() => createDashboard({ authorize })).toThrow(/needs datastore, tasks, projectId, location/);
    expect(normalizeBasePath('/ops/tasks/')).toBe('/ops/tasks');
    expect(normalizeBasePath('/')).toBe('');
  });
});

describe('CSRF tokens', () => {
  const key = Buffer.alloc(32, 7);
  it('accept the token of the session only', () => {
    const token = csrfToken(key, 'session-a');
    expect(checkCsrf(key, 'session-a', token)).toBe(true);
    expect(checkCsrf(key, 'session-b', token)).toBe(false);
    expect(checkCsrf(Buffer.alloc(32, 8), 'session-a', token)).toBe(false);
    expect(checkCsrf(key, 'session-a', undefined)).toBe(false);
    expect(checkCsrf(key, undefined, token)).toBe(false);
    expect(checkCsrf(key, 'session-a', `${token}x`)).toBe(false);
  });

  it('cookies are HttpOnly and SameSite=Strict, Secure over HTTPS', () => {
    expect(cookie('a', 'b', '/x/', false)).toBe('a=b; Path=/x/; HttpOnly; SameSite=Strict');
    expect(cookie('a', 'b', '', true)).toBe('a=b; Path=/; HttpOnly; SameSite=Strict; Secure');
    expect(parseCookies('x=1; a=2; a=3')).toEqual(
      new Map([
        ['x', '1'],
        ['a', '2'],
      ]),
    );
  });
});

describe('the page shell', () => {
  it('escapes every value it inserts', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&`)).toBe('&#60;a href=&#34;x&#34; onclick=&#39;y&#39;&#62;&#38;');
    const html = pageHtml({
      basePath: '/ops"><script>',
      csrf: 'tok',
      title: '</title><script>alert(1)</script>',
      assetVersion: 'v1',
    });
    expect(html).not.toMatch(/<script>alert|"><script>/);
    expect(html.match(/<script\b/g)).toHaveLength(1); // only the page's own module
  });
});

describe('keyArg', () => {
  const datastore = new Datastore({ projectId: 'p' });
  it('gives keys in the form the task view (and deferred inspect) parses back', () => {
    const keys = [
      datastore.key(['_DeferredTask', 'abc123']),
      datastore.key(['_DeferredTask', 'failed.default.123']),
      datastore.key(['Account', 'acme', '_DeferredTask', 'x1']),
      datastore.key(['Order', datastore.int(42), '_DeferredTask', '777']),
    ];
    for (const key of keys) expect(parseTaskKey(datastore, keyArg(key)).path).toEqual(key.path);
    expect(keyArg(keys[0]!)).toBe('abc123');
  });
});

describe('pickNamespace', () => {
  const shown = ['app', 'acme', ''];
  it("takes the dashboard's own when none is named, and any namespace it shows, the default one ('') too", () => {
    expect(pickNamespace(undefined, 'app', shown)).toBe('app');
    expect(pickNamespace(null, 'app', shown)).toBe('app');
    expect(pickNamespace('acme', 'app', shown)).toBe('acme');
    expect(pickNamespace('', 'app', shown)).toBe('');
  });

  it('refuses any other, naming the ones it shows', () => {
    expect(() => pickNamespace('globex', 'app', shown)).toThrow(
      'namespace "globex" is not one this dashboard shows: it shows namespace "app" (its runtime\'s) and the ones its runtime writes task entities to: "acme", "".',
    );
    expect(() => pickNamespace('x', '', [''])).toThrow(
      'namespace "x" is not one this dashboard shows: it shows the default namespace (its runtime\'s) only; its runtime writes task entities to no other namespace.',
    );
    expect(() => pickNamespace(7, 'app', shown)).toThrow('namespace must be text of at most 100 characters.');
    expect(() => pickNamespace('n'.repeat(101), 'app', shown)).toThrow(/at most 100 characters/);
  });
});
