/** The entry point `cloud-deferred/inspect`: what the `deferred` CLI and operators read about the transient entities (an inventory by state and age, the namespaces a sweep covers, one task's entity and Cloud Task), kept out of the production entry. */
export { inventory, inventoryAll, type Inventory, type NamespacesInventory } from './inventory.js';
export { discoverNamespaces } from './sweep-namespaces.js';
export { inspectTask, type TaskInspection } from './inspect-task.js';
