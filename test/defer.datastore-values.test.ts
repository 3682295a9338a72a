// Datastore values as task arguments, on both emulators: keys, entities with their key, int64 ids and wrappers arrive
// as the worker's own client's values, so a task that saves them writes key values, not embedded entities.
import { PropertyFilter } from '@google-cloud/datastore';
import { describe, expect, it } from 'vitest';
import { describeStorage } from './support/backends.js';
import { useRuntime } from './support/runtime.js';

describe('defer: Datastore values as arguments', () => {
  const setup = useRuntime();

  describeStorage('saved by the task', (ctx) => {
    it.each([
      ['inline', {}],
      ['entity-backed', { entityBacked: true }],
    ])(
      'a Key argument (%s) is saved as a key value, and an entity argument back under its own key',
      async (_kind, options) => {
        const rt = await setup(ctx());
        const { datastore, namespace } = ctx();
        const ref = datastore.key({
          namespace,
          path: ['Account', 'acme', 'User', datastore.int('9223372036854775807')],
        });
        await datastore.save({
          key: datastore.key(['User', 'ada']),
          data: { name: 'Ada', logins: datastore.int('7') },
        });
        const [user] = await datastore.get(datastore.key(['User', 'ada']));
        const seen: boolean[] = [];
        const link = rt.deferred.task('link', async (key: typeof ref, entity: Record<string | symbol, unknown>) => {
          seen.push(datastore.isKey(key), datastore.isKey(entity[datastore.KEY] as object));
          await datastore.save({ key: datastore.key(['Holder', 'h1']), data: { ref: key } });
          await datastore.save({ key: entity[datastore.KEY] as typeof ref, data: { ...entity, linked: true } });
        });
        await link.with(options).defer(ref, user as Record<string | symbol, unknown>);
        await rt.advance();
        expect(seen).toEqual([true, true]);

        const [holder] = await datastore.get(datastore.key(['Holder', 'h1']));
        expect(datastore.isKey(holder.ref)).toBe(true);
        expect(holder.ref.path).toEqual(['Account', 'acme', 'User', '9223372036854775807']);
        expect(holder.ref.namespace).toBe(namespace);
        // The stored property is a key value: a query filtering on it by key finds the entity.
        const [byKey] = await datastore.runQuery(
          datastore.createQuery('Holder').filter(new PropertyFilter('ref', '=', ref)),
        );
        expect(byKey).toHaveLength(1);

        const [linked] = await datastore.get(datastore.key(['User', 'ada']));
        expect(linked).toMatchObject({ name: 'Ada', linked: true });
        expect(String(linked.logins)).toBe('7');
      },
    );
  });
});
