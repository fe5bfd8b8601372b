// The peer's onnxruntime session (kept free of this project's imports: the memory child uses it).
import * as ort from 'onnxruntime-node';

/**
 * The peer session as transformers.js creates it in Node (cpu provider; it leaves graph optimisation at
 * onnxruntime's default, 'all'), with the thread count pinned like ours.
 */
export function peerSession(path: string, threads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
}
