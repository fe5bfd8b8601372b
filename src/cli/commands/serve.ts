// `deberta serve`: the HTTP JSON API (src/server) over one or more checkpoint folders, each model on a
// pool of worker threads, with graceful shutdown on SIGTERM / SIGINT: stop taking connections, answer
// late requests 503, finish the requests received, then exit. The server listens as soon as the models'
// tasks are known and loads them after (/health answers at once; /ready and the task routes say 503
// until every model is up); a model that fails to load ends the process (exit 1).
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createServer, DEFAULTS, shutdown as stopServer } from '../../server/app.ts';
import { defaultTask, parseModelSpec } from '../../server/pipeline-runner.ts';
import type { LoadingModel } from '../../server/app.ts';
import type { ServedModel } from '../../server/types.ts';
import { loadPooledModel } from '../../server/worker-pool.ts';
import { checkRevision, localCheckpoint, REVISION_HELP } from '../hub-args.ts';
import { DEFAULT_MODELS, defaultModelDir, DEVICES, resolveTask, type Task } from '../../pipelines/index.ts';
import { DTYPE_HELP, dtypeFlag, oneOf, parseIntFlag } from '../flags.ts';

/** The demo site `npm run build:browser` writes; served when --static is not given and it exists. */
const BUILT_DEMO = fileURLToPath(new URL('../../../dist/demo/', import.meta.url));

interface ServeOptions {
  model?: string[];
  port: string;
  host: string;
  token?: string;
  maxBatch: string;
  maxWaitMs: string;
  maxQueue: string;
  timeoutMs: string;
  maxItems: string;
  maxTextLength: string;
  bodyLimit: string;
  static?: string | false;
  threads?: string;
  workers?: string;
  shareWeights: boolean;
  device: string;
  dtype?: string;
  shutdownTimeoutMs: string;
  shutdownGraceMs: string;
  logLevel: string;
  revision?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Worker threads per model when --workers is not given (docs/server.md: measured against one worker with all threads). */
export const DEFAULT_WORKERS = 2;

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve checkpoints over an HTTP JSON API: POST /v1/<task>, GET /health, GET /metrics')
    .option('--model <spec>', 'a checkpoint folder or Hugging Face Hub id: DIR, NAME=DIR or NAME:TASK[,TASK]=DIR (repeat for more models); default task: the one its head is for; default: the embedded models, each for the tasks it is the default of', collect)
    .option('--revision <rev>', REVISION_HELP)
    .option('--port <n>', 'TCP port (0: any free port)', '8080')
    .option('--host <addr>', 'address to bind (0.0.0.0 exposes the server beyond this machine)', '127.0.0.1')
    .option('--token <token>', 'require "Authorization: Bearer <token>" on /v1/* and /metrics (or set DEBERTA_TOKEN)')
    .option('--max-batch <n>', 'most inputs in one model run', String(DEFAULTS.maxBatch))
    .option('--max-wait-ms <ms>', 'how long an input waits for others to batch with', String(DEFAULTS.maxWaitMs))
    .option('--max-queue <n>', 'most inputs waiting per model and task before requests get 503', String(DEFAULTS.maxQueue))
    .option('--timeout-ms <ms>', 'answer 504 when a request has no result after this long (0: never)', String(DEFAULTS.timeoutMs))
    .option('--max-items <n>', 'most inputs in one request (422 beyond)', String(DEFAULTS.maxItems))
    .option('--max-text-length <n>', 'most characters in one input text (422 beyond)', String(DEFAULTS.maxTextLength))
    .option('--body-limit <bytes>', 'most bytes in a request body (413 beyond)', String(DEFAULTS.bodyLimit))
    .option('--static <dir>', 'serve this folder at / (the browser demo); default: the built demo (dist/demo) when present')
    .option('--no-static', 'serve no static files')
    .option('--workers <n>', `worker threads per model, each with its own ONNX Runtime session (default ${DEFAULT_WORKERS})`)
    .option('--threads <n>', 'intra-op threads per worker (default: the cores divided among the workers)')
    .option('--no-share-weights', 'give each worker its own prepacked copy of the weights: about 5 % more requests per second, the weights\' memory once more per worker (default: workers share one mapped copy)')
    .option('--device <name>', 'cpu or webgpu (ONNX Runtime\'s WebGPU provider)', 'cpu')
    .option('--dtype <name>', DTYPE_HELP, 'fp32')
    .option('--shutdown-timeout-ms <ms>', 'on SIGTERM, exit anyway after this long', '30000')
    .option('--shutdown-grace-ms <ms>', 'on SIGTERM, once every request is answered, keep connections open this long (late requests get 503)', String(DEFAULTS.shutdownGraceMs))
    .option('--log-level <level>', 'fatal, error, warn, info, debug or silent', 'info')
    .action(async (opts: ServeOptions) => serve(opts));
}

/** Without --model: the embedded models, each serving the tasks it is the default model of. */
export function embeddedModelSpecs(): { name: string; dir: string; tasks: Task[] }[] {
  const byName = new Map<string, Task[]>();
  for (const [task, name] of Object.entries(DEFAULT_MODELS) as [Task, string][]) byName.set(name, [...(byName.get(name) ?? []), task]);
  return [...byName].map(([name, tasks]) => ({ name, dir: defaultModelDir(tasks[0]!), tasks }));
}

async function serve(opts: ServeOptions): Promise<void> {
  const int = (v: string, flag: string, min: number) => parseIntFlag(v, flag, min);
  const maxBatch = int(opts.maxBatch, '--max-batch', 1);
  const workers = opts.workers === undefined ? DEFAULT_WORKERS : int(opts.workers, '--workers', 1);
  const threads = opts.threads === undefined ? Math.max(1, Math.floor(availableParallelism() / workers)) : int(opts.threads, '--threads', 1);
  const device = oneOf(opts.device, DEVICES, '--device');
  const dtype = dtypeFlag(opts.dtype);
  const staticDir = opts.static === false ? undefined : opts.static ?? (existsSync(`${BUILT_DEMO}index.html`) ? BUILT_DEMO : undefined);
  const say = (line: string) => process.stderr.write(`deberta serve: ${line}\n`);

  const given = opts.model ?? [];
  if (!given.length && opts.revision !== undefined) throw new Error('--revision is for Hugging Face Hub ids given with --model; without --model the embedded models are served');
  const specs = given.length ? [] : embeddedModelSpecs();
  for (const value of given) {
    const spec = parseModelSpec(value);
    checkRevision(opts.revision, given.map((v) => parseModelSpec(v).dir));
    // A Hub id is fetched into the cache here, so the workers load a folder.
    spec.dir = await localCheckpoint(spec.dir, { revision: opts.revision });
    specs.push({ ...spec, tasks: (spec.tasks ?? [defaultTask(spec.dir)]).map((t) => resolveTask(t)) });
  }
  // The models load one after another (their workers at once), while the server already answers.
  const t0 = performance.now();
  let previous: Promise<unknown> = Promise.resolve();
  const models: LoadingModel[] = specs.map((spec) => {
    const loaded = previous.then(async (): Promise<ServedModel> => {
      const t1 = performance.now();
      // One pipeline call per micro-batch: let it run the whole batch as one model call.
      const model = await loadPooledModel({ name: spec.name, dir: spec.dir, tasks: spec.tasks }, { batchSize: maxBatch, threads, device, dtype, workers, shareWeights: opts.shareWeights });
      const weights = workers === 1 ? '' : opts.shareWeights ? ', weights shared' : ', a copy of the weights per worker';
      say(`loaded ${spec.name} (${model.runners.map((r) => r.task).join(', ')}) from ${spec.dir} on ${workers} worker${workers > 1 ? 's' : ''} × ${threads} thread${threads > 1 ? 's' : ''}${weights} in ${Math.round(performance.now() - t1)} ms`);
      return model;
    });
    previous = loaded;
    return { name: spec.name, tasks: spec.tasks, concurrency: workers, loaded };
  });

  const app = createServer({
    models,
    token: opts.token ?? process.env.DEBERTA_TOKEN,
    maxBatch,
    maxWaitMs: int(opts.maxWaitMs, '--max-wait-ms', 0),
    maxQueue: int(opts.maxQueue, '--max-queue', 1),
    timeoutMs: int(opts.timeoutMs, '--timeout-ms', 0),
    maxItems: int(opts.maxItems, '--max-items', 1),
    maxTextLength: int(opts.maxTextLength, '--max-text-length', 1),
    bodyLimit: int(opts.bodyLimit, '--body-limit', 1),
    staticDir,
    shutdownGraceMs: int(opts.shutdownGraceMs, '--shutdown-grace-ms', 0),
    logger: opts.logLevel === 'silent' ? false : { level: opts.logLevel },
  });
  const address = await app.listen({ port: int(opts.port, '--port', 0), host: opts.host });
  say(`listening on ${address}${staticDir ? `, static files from ${staticDir}` : ''}; loading ${specs.map((s) => s.name).join(', ')} (/ready: 503 until loaded)`);
  Promise.all(models.map((m) => m.loaded)).then(() => {
    say(`ready on ${address}: ${models.length} model${models.length > 1 ? 's' : ''} loaded in ${Math.round(performance.now() - t0)} ms`);
  }, (err: unknown) => {
    say(`loading failed: ${(err as Error).message}`);
    // The models that did load end with the server; then the process fails.
    void app.close().finally(() => process.exit(1));
  });

  const shutdownMs = int(opts.shutdownTimeoutMs, '--shutdown-timeout-ms', 0);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) {
      say(`${signal} again: exiting now`);
      process.exit(1);
    }
    closing = true;
    say(`${signal}: finishing requests in flight, then exiting`);
    const force = setTimeout(() => {
      say(`requests still running after ${shutdownMs} ms: exiting anyway`);
      process.exit(1);
    }, shutdownMs);
    force.unref();
    stopServer(app).then(() => {
      say('stopped');
      process.exit(0);
    }, (err: unknown) => {
      say(`shutdown failed: ${(err as Error).message}`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
