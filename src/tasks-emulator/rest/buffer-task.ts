/**
 * BufferTask over REST, as Google's REST reference documents it (it is in no published proto, so in no client
 * library): `POST /{version}/{queue}/tasks/{taskId}:buffer` (or `/tasks:buffer` for a generated id) creates an HTTP task
 * from the request's body, routed by the queue's HTTP target, and answers `{"task": Task}`.
 */
import type { TasksEngine } from '../engine.js';
import { targetUrl } from '../http-target.js';
import { codecOf } from '../messages.js';
import { API_VERSIONS, protoRoot, type ApiVersion } from '../proto.js';
import { failedPrecondition, invalidArgument } from '../rpc-errors.js';
import type { CustomRoute, RawRequest } from './gateway.js';

const PATH = new RegExp(
  `^/(${API_VERSIONS.join('|')})/(projects/[^/]+/locations/[^/]+/queues/[^/:]+)/tasks(?:/([^/:]*))?:buffer$`,
);

/**
 * The task body and its Content-Type: the request's raw body and Content-Type, or, when the request is the JSON form
 * of BufferTaskRequest (`{"body": {"contentType": ..., "data": base64}}`, as discovery-based clients send it), those.
 */
function payloadOf(request: RawRequest): { body: Buffer; contentType: string | undefined } {
  const contentType = request.headers['content-type'];
  if (contentType?.startsWith('application/json') && request.body.length > 0) {
    let json: unknown;
    try {
      json = JSON.parse(request.body.toString('utf8'));
    } catch {
      json = undefined;
    }
    const keys = json && typeof json === 'object' && !Array.isArray(json) ? Object.keys(json) : [];
    const httpBody = keys.length === 1 && keys[0] === 'body' ? (json as { body: unknown }).body : undefined;
    if (
      httpBody &&
      typeof httpBody === 'object' &&
      Object.keys(httpBody).every((k) => ['contentType', 'content_type', 'data', 'extensions'].includes(k))
    ) {
      const form = httpBody as { contentType?: string; content_type?: string; data?: string };
      return {
        body: Buffer.from(form.data ?? '', 'base64'),
        contentType: form.contentType ?? form.content_type ?? undefined,
      };
    }
  }
  return { body: request.body, contentType };
}

/** The BufferTask routes of every served API version. */
export function bufferTaskRoutes(engine: TasksEngine): CustomRoute[] {
  return [
    {
      httpMethod: 'POST',
      match(rawPath) {
        const match = PATH.exec(rawPath);
        if (!match) return undefined;
        try {
          return new Map([
            ['version', match[1]!],
            ['queue', decodeURIComponent(match[2]!)],
            ['taskId', decodeURIComponent(match[3] ?? '')],
          ]);
        } catch {
          return undefined;
        }
      },
      handle(request) {
        const version = request.variables.get('version') as ApiVersion;
        const queuePath = request.variables.get('queue')!;
        const taskId = request.variables.get('taskId') ?? '';
        const queue = engine.queueForTasks(queuePath);
        const url = targetUrl(queue.config.httpTarget);
        if (!url) {
          throw failedPrecondition(
            `BufferTask needs a queue with an HTTP target: give ${queuePath} an http_target whose uri_override names a host (UpdateQueue).`,
          );
        }
        const { body, contentType } = payloadOf(request);
        if (contentType !== undefined && /[\r\n]/.test(contentType)) throw invalidArgument('Invalid Content-Type.');
        const task = engine.createTask({
          parent: queuePath,
          task: {
            ...(taskId ? { name: `${queuePath}/tasks/${taskId}` } : {}),
            httpRequest: { url, headers: body.length > 0 && contentType ? { 'Content-Type': contentType } : {}, body },
          },
        });
        const taskType = protoRoot().lookupType(`google.cloud.tasks.${version}.Task`);
        return { task: codecOf(taskType).toJson(task, { numericEnums: request.numericEnums }) };
      },
    },
  ];
}
