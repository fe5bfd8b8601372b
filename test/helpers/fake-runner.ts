// A deterministic TaskRunner for server tests: each item's result is the length of its text, and the
// test can hold batches (to fill the queue or time out) and see every batch the server ran.
import type { TaskRunner } from '../../src/server/types.ts';

export interface FakeRunner extends TaskRunner {
  /** The items of each `run` call, in call order. */
  batches: unknown[][];
  /** The options of each `run` call. */
  batchOptions: (Record<string, unknown> | undefined)[];
  /** While held, `run` calls wait until `release()`. */
  hold(): void;
  release(): void;
  disposed: boolean;
}

function textOf(item: unknown): string {
  if (typeof item === 'string') return item;
  const o = item as { text: string; text_pair?: string };
  return o.text + (o.text_pair ?? '');
}

export function fakeRunner(task = 'text-classification', delayMs = 0): FakeRunner {
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const runner: FakeRunner = {
    task,
    batches: [],
    batchOptions: [],
    disposed: false,
    hold() {
      gate = new Promise((r) => (open = r));
    },
    release() {
      open?.();
      gate = undefined;
    },
    async run(items, options) {
      runner.batches.push(items);
      runner.batchOptions.push(options);
      if (gate) await gate;
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      if (items.some((i) => textOf(i).includes('boom'))) throw new Error(`cannot classify 'boom'`);
      return items.map((i) => ({ label: `len${textOf(i).length}`, score: textOf(i).length }));
    },
    async dispose() {
      runner.disposed = true;
    },
  };
  return runner;
}
