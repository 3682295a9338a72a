// README example "Bulk work and safe chaining": a cursor-continued job that re-defers itself, at most once per page.
import type { Datastore } from '@google-cloud/datastore';
import { PermanentTaskFailure, type Deferred } from 'cloud-deferred';

const PAGE = 2;

export function creditTasks(deferred: Deferred, datastore: Datastore) {
  const pages: number[] = [];
  // A closure's captured values become an explicit, serializable environment.
  const addCredit = deferred.closure(
    'addCredit',
    async (env: { amount: number }, cursor: string | null) => {
      if (env.amount <= 0) throw new PermanentTaskFailure(`amount must be positive, got ${env.amount}`);
      let query = datastore.createQuery('Account').limit(PAGE);
      if (cursor) query = query.start(cursor);
      const [accounts, info] = await datastore.runQuery(query);
      for (const account of accounts) account.balance += env.amount;
      await datastore.save(accounts);
      pages.push(accounts.length);
      if (accounts.length === PAGE && info.moreResults !== 'NO_MORE_RESULTS') {
        // Held until this run succeeds, and named `<this task>-1`: a retried page never forks the chain.
        await addCredit.bind(env).defer(info.endCursor ?? null);
      }
    },
    { maxAttempts: 5 },
  );
  return { addCredit, pages };
}
