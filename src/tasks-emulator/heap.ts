/** A binary min-heap ordered by (due time, insertion sequence): the queue's schedule of pending tasks. */

export interface HeapEntry<T> {
  readonly due: number;
  readonly seq: number;
  readonly value: T;
}

/** Min-heap on `due`, ties broken by `seq` (first pushed, first out). */
export class DueHeap<T> {
  private readonly items: HeapEntry<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  push(due: number, value: T): void {
    const items = this.items;
    items.push({ due, seq: this.seq++, value });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  peek(): HeapEntry<T> | undefined {
    return this.items[0];
  }

  pop(): HeapEntry<T> | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && less(items[l]!, items[m]!)) m = l;
        if (r < items.length && less(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.items.length = 0;
  }
}

function less<T>(a: HeapEntry<T>, b: HeapEntry<T>): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}
