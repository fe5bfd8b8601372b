// deberta-ts for browsers (the package's `browser` export condition): the shared API (./api.ts) on
// onnxruntime-web, with checkpoints fetched from URLs. `pipeline('text-classification', '/models/spam/')`.
import './platform/browser.ts';

export * from './api.ts';
