/** `npm start`: the main job on the local stack (arrives with the sweeper; for now it proves the stack starts). */
import { startDatastoreEmulator } from './local-stack/index.js';

const emulator = await startDatastoreEmulator({ backend: 'datastore' });
console.log(`Datastore emulator healthy on ${emulator.endpoint}.`);
console.log('The main job (defer a realistic mix, run it, sweep, report) arrives with the sweeper.');
await emulator.stop();
