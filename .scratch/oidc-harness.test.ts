import { expect, it } from 'vitest';
import { createDeferred } from '../src/index.js';
import { createTestHarness } from '../src/testing/index.js';

it('oidc in the harness', async () => {
  const harness = await createTestHarness((env) => {
    const deferred = createDeferred({
      projectId: 'p', location: 'us-central1', secret: 'a-secret-of-enough-length-123',
      oidc: { serviceAccountEmail: 'tasks@p.iam.gserviceaccount.com' },
      ...env,
    });
    deferred.task('hello', () => 'hi');
    return deferred;
  });
  await harness.runtime.defer('hello' as never);
  const runs = await harness.drain();
  console.log(JSON.stringify(runs, null, 1), harness.logs);
  await harness.close();
});
