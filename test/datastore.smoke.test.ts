// Smoke test of the local stack through the official client, on both emulators: transaction, big Buffer, range query.
import { randomBytes } from 'node:crypto';
import { PropertyFilter, and } from '@google-cloud/datastore';
import { expect, it } from 'vitest';
import { describeStorage } from './support/backends.js';

describeStorage('Datastore emulator smoke', (ctx) => {
  it('writes a child entity with a 900 KB unindexed Buffer in a transaction, range-queries it and deletes it', async () => {
    const { datastore } = ctx();
    const parent = datastore.key(['Account', 'acme']);
    const blob = randomBytes(900 * 1024);
    const keys = [1, 2, 3].map((n) => datastore.key(['Account', 'acme', 'Report', `r${n}`]));

    const tx = datastore.transaction();
    await tx.run();
    tx.save({ key: parent, data: { name: 'Acme' } });
    tx.save({
      key: keys[0]!,
      data: [
        { name: 'size', value: 10 },
        { name: 'blob', value: blob, excludeFromIndexes: true },
      ],
    });
    tx.save({ key: keys[1]!, data: { size: 20 } });
    tx.save({ key: keys[2]!, data: { size: 30 } });
    await tx.commit();

    const query = datastore
      .createQuery('Report')
      .hasAncestor(parent)
      .filter(and([new PropertyFilter('size', '>=', 5), new PropertyFilter('size', '<', 15)]));
    const [found] = await datastore.runQuery(query);
    expect(found).toHaveLength(1);
    const entity = found[0]!;
    expect(entity[datastore.KEY].name).toBe('r1');
    expect(entity[datastore.KEY].parent?.name).toBe('acme');
    expect(Buffer.compare(entity.blob as Buffer, blob)).toBe(0);

    await datastore.delete(keys);
    const [afterDelete] = await datastore.get(keys[0]!);
    expect(afterDelete).toBeUndefined();
  });
});
