// README example "Methods of classes": the instance travels as its key and is rebuilt in the worker.
import type { Deferred } from 'cloud-deferred';

export class Invoice {
  static readonly store = new Map<string, Invoice>();
  constructor(
    readonly id: string,
    public status: 'open' | 'sent' = 'open',
  ) {}
  static async load(id: string): Promise<Invoice> {
    const invoice = Invoice.store.get(id);
    if (!invoice) throw new Error(`no invoice ${id}`);
    return invoice;
  }
  async send(channel: 'email' | 'post'): Promise<void> {
    this.status = 'sent';
    Invoice.sentVia.push(`${this.id} by ${channel}`);
  }
  static sentVia: string[] = [];
}

export function invoiceTasks(deferred: Deferred) {
  const invoices = deferred.methods('Invoice', Invoice, {
    key: (invoice) => invoice.id,
    load: (id: string) => Invoice.load(id),
    methods: ['send'],
  });
  // Many at once: one call per instance, checked first, created in bulk (see deferMany above).
  const sendAll = (open: readonly Invoice[]) =>
    invoices.deferMany(open.map((invoice) => ({ instance: invoice, method: 'send', args: ['email'] })));
  return { invoices, sendAll };
}
