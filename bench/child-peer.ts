// Child process: creates the peer's onnxruntime session from its file, runs it once, and prints
// {"loadMs", "baseRssMiB", "peakRssMiB"} as one JSON line. Usage: child-peer.ts MODEL.onnx THREADS BATCH SEQ
import '../src/platform/node.ts';
import * as ort from 'onnxruntime-node';
import { childArgs, childReport, peakRssMiB } from './child-common.ts';
import { peerSession } from './peer-session.ts';

const { path, threads, ids, mask, dims } = childArgs();
const base = peakRssMiB();
const t0 = performance.now();
const session = await peerSession(path, threads);
const loadMs = performance.now() - t0;
await session.run({ input_ids: new ort.Tensor('int64', ids, dims), attention_mask: new ort.Tensor('int64', mask, dims) });
childReport(loadMs, base);
