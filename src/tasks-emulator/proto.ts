/** Loads the protos the emulator serves (Cloud Tasks v2 and v2beta3, Locations, Operations) from @google-cloud/tasks and google-gax. */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { protobuf, type Gax } from './google-gax.js';

const require = createRequire(import.meta.url);

/** The API versions of Cloud Tasks the emulator serves, by the package name of their protos. */
export const API_VERSIONS = ['v2', 'v2beta3'] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];

/** The proto files loaded, relative to the folders below. */
const FILES = [
  ...API_VERSIONS.map((version) => `google/cloud/tasks/${version}/cloudtasks.proto`),
  'google/cloud/location/locations.proto',
  'google/longrunning/operations.proto',
  'google/rpc/status.proto',
  'google/rpc/error_details.proto',
];

/** Where imports are looked up: the installed @google-cloud/tasks protos first, then google-gax's common protos. */
function protoDirs(): string[] {
  const tasksDir = path.dirname(require.resolve('@google-cloud/tasks/build/protos'));
  // The google-gax that @google-cloud/tasks runs on (the app's copy, a peer dependency).
  const gaxEntry = createRequire(require.resolve('@google-cloud/tasks')).resolve('google-gax');
  const gaxDir = path.join(path.dirname(gaxEntry), '..', 'protos');
  return [tasksDir, gaxDir];
}

let cachedRoot: Gax.protobuf.Root | undefined;

/**
 * One protobufjs root with every message and service the emulator serves, field names in lowerCamelCase (as the
 * official clients see them), the `google.api.http` annotations kept as method options. Loaded once per process.
 */
export function protoRoot(): Gax.protobuf.Root {
  if (!cachedRoot) {
    const dirs = protoDirs();
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => {
      if (path.isAbsolute(target)) return target;
      for (const dir of dirs) {
        const candidate = path.join(dir, target);
        if (existsSync(candidate)) return candidate;
      }
      return target; // protobufjs then uses its bundled copy (google/protobuf/*.proto) or fails naming the file
    };
    root.loadSync(FILES, { keepCase: false, alternateCommentMode: false });
    addV2QueueHttpTarget(root);
    root.resolveAll();
    cachedRoot = root;
  }
  return cachedRoot;
}

/**
 * Google's v2 API has `Queue.http_target` (queue-level routing; gcloud's GA `tasks queues create --http-uri-override`
 * sends it over REST), the v2 protos of @google-cloud/tasks do not (yet): the emulator gives v2's Queue the field, of
 * v2beta3's HttpTarget type (the same JSON), on a field number the protos leave free. No-op once the protos have it.
 */
function addV2QueueHttpTarget(root: Gax.protobuf.Root): void {
  const queue = root.lookupType('google.cloud.tasks.v2.Queue');
  if (queue.fields.httpTarget) return;
  const used = new Set(queue.fieldsArray.map((field) => field.id));
  let id = 13;
  while (used.has(id)) id++;
  queue.add(new protobuf.Field('httpTarget', id, '.google.cloud.tasks.v2beta3.HttpTarget'));
}

/** The CloudTasks service of one API version. */
export function cloudTasksService(version: ApiVersion): Gax.protobuf.Service {
  return protoRoot().lookupService(`google.cloud.tasks.${version}.CloudTasks`);
}

/** Whether the installed protos of `version` define `rpc` (BatchCreateTasks, CMEK...: the protos grow between releases). */
export function hasRpc(version: ApiVersion, rpc: string): boolean {
  return Boolean(cloudTasksService(version).methods[rpc]);
}
