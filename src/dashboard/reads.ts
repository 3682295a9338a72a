/** Index-only reads for the dashboard (counts, first keys, key pages), each tallied as Datastore mode bills it. */
import type { Datastore, Key, PropertyFilter, Query } from '@google-cloud/datastore';
import pLimit from 'p-limit';
import { andFilter, keyOf, propertyFilter } from '../store/datastore.js';

/** What a set of reads cost: RPCs made, and entity reads billed (a count: one per 1,000 index entries, at least one). */
export interface ReadCost {
  queries: number;
  billedReads: number;
}

/** Most RPCs of one view in flight at once. */
const CONCURRENCY = 16;

/** Runs the index-only reads of one view and adds up their cost. */
export class Reader {
  readonly cost: ReadCost = { queries: 0, billedReads: 0 };
  private readonly limit = pLimit(CONCURRENCY);
  private countUnsupported = false;

  constructor(
    readonly datastore: Datastore,
    readonly namespace: string,
  ) {}

  query(kind: string, filters: PropertyFilter<string>[] = []): Query {
    let query = this.datastore.createQuery(this.namespace, kind);
    if (filters.length === 1) query = query.filter(filters[0]!);
    else if (filters.length > 1) query = query.filter(andFilter(this.datastore, filters));
    return query;
  }

  where(name: string, op: '=' | '<' | '<=' | '>' | '>=', value: unknown): PropertyFilter<string> {
    return propertyFilter(this.datastore, name, op, value);
  }

  /**
   * COUNT aggregation of a query (index entries only). Where the store has no aggregation queries, counts keys with
   * keys-only pages instead (billed as one read per query page).
   */
  count(kind: string, filters: PropertyFilter<string>[] = []): Promise<number> {
    return this.limit(async () => {
      if (!this.countUnsupported) {
        try {
          const aggregate = this.datastore.createAggregationQuery(this.query(kind, filters)).count('n');
          const [rows] = await this.datastore.runAggregationQuery(aggregate);
          const n = Number((rows[0] as { n?: unknown } | undefined)?.n ?? 0);
          this.cost.queries++;
          this.cost.billedReads += Math.max(1, Math.ceil(n / 1000));
          return n;
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          if (code !== 12 /* UNIMPLEMENTED */) throw error;
          this.countUnsupported = true;
        }
      }
      let n = 0;
      let start: string | undefined;
      for (;;) {
        let query = this.query(kind, filters).select('__key__').limit(1000);
        if (start) query = query.start(start);
        const [rows, info] = await this.datastore.runQuery(query);
        this.cost.queries++;
        this.cost.billedReads += 1;
        n += rows.length;
        if (rows.length < 1000 || info.moreResults === 'NO_MORE_RESULTS' || !info.endCursor) return n;
        start = info.endCursor;
      }
    });
  }

  /** The smallest (or largest) value of an indexed property among a query's entities: a projection of one entry. */
  first(kind: string, property: string, filters: PropertyFilter<string>[] = [], descending = false): Promise<unknown> {
    return this.limit(async () => {
      const query = this.query(kind, filters).select(property).order(property, { descending }).limit(1);
      const [rows] = await this.datastore.runQuery(query);
      this.cost.queries++;
      this.cost.billedReads += 1;
      return (rows[0] as Record<string, unknown> | undefined)?.[property];
    });
  }

  /** One page of keys (keys-only), from a cursor. */
  keys(
    kind: string,
    filters: PropertyFilter<string>[],
    limit: number,
    cursor: string | undefined,
  ): Promise<{ keys: Key[]; next: string | null }> {
    return this.limit(async () => {
      let query = this.query(kind, filters).select('__key__').limit(limit);
      if (cursor) query = query.start(cursor);
      const [rows, info] = await this.datastore.runQuery(query);
      this.cost.queries++;
      this.cost.billedReads += 1;
      const more = rows.length === limit && info.moreResults !== 'NO_MORE_RESULTS' && Boolean(info.endCursor);
      return { keys: rows.map((row) => keyOf(this.datastore, row)), next: more ? info.endCursor! : null };
    });
  }

  /** Entities by key (one billed read each). */
  get(keys: Key[]): Promise<Record<string | symbol, unknown>[]> {
    return this.limit(async () => {
      if (keys.length === 0) return [];
      const [entities] = await this.datastore.get(keys);
      this.cost.queries++;
      this.cost.billedReads += keys.length;
      return entities as Record<string | symbol, unknown>[];
    });
  }

  /** Whole entities of a query (one billed read per entity, at least one per query). */
  entities(query: Query): Promise<Record<string | symbol, unknown>[]> {
    return this.limit(async () => {
      const [rows] = await this.datastore.runQuery(query);
      this.cost.queries++;
      this.cost.billedReads += Math.max(1, rows.length);
      return rows as Record<string | symbol, unknown>[];
    });
  }
}
