// Per-task checks of a request against the model that will run it, on the main thread before the request
// is queued: what the JSON schema cannot say (an empty target, a stride the model's length cannot take).
// Each failure is a 422 whose message names the field.
import type { RunnerInfo } from './task-runtime.ts';
import { HttpError } from './types.ts';

type Options = Record<string, unknown> | undefined;

const blank = (s: unknown) => typeof s === 'string' && s.trim() === '';

function fail(message: string): never {
  throw new HttpError(422, message);
}

export function validateRequest(info: RunnerInfo, items: unknown[], options: Options): void {
  switch (info.task) {
    case 'fill-mask': {
      const mask = info.maskToken;
      if (mask !== undefined) {
        const i = items.findIndex((t) => !(t as string).includes(mask));
        if (i >= 0) fail(`inputs[${i}] has no ${mask} token; write ${mask} where the word to predict goes`);
      }
      const targets = (options?.targets as string[] | undefined) ?? [];
      const t = targets.findIndex(blank);
      if (t >= 0) fail(`options.targets[${t}] is empty; give the words to score`);
      break;
    }
    case 'zero-shot-classification': {
      const template = options?.hypothesis_template as string | undefined;
      if (template !== undefined && !template.includes('{}')) fail('options.hypothesis_template has no {} where the label goes');
      const labels = (options?.candidate_labels as string[] | undefined) ?? [];
      const l = labels.findIndex(blank);
      if (l >= 0) fail(`options.candidate_labels[${l}] is empty`);
      if ((options?.multi_label === true || labels.length === 1) && info.hasContradiction === false) {
        fail('this model has no contradiction label, which multi_label and a single candidate label need');
      }
      break;
    }
    case 'token-classification': {
      const stride = options?.stride as number | undefined;
      const room = info.maxLength - info.addedSingle;
      if (stride !== undefined && stride >= room) {
        fail(`options.stride must be smaller than ${room} (the model's ${info.maxLength} tokens less ${info.addedSingle} special tokens), got ${stride}`);
      }
      break;
    }
    case 'question-answering': {
      items.forEach((item, i) => {
        const { question, context } = item as { question: string; context: string };
        if (blank(question)) fail(`inputs[${i}].question is empty`);
        if (blank(context)) fail(`inputs[${i}].context is empty`);
      });
      const maxSeqLen = (options?.max_seq_len as number | undefined) ?? Math.min(info.maxLength, 384);
      // A window holds the special tokens, at least one question token and one context token.
      const least = info.addedPair + 2;
      if (maxSeqLen > info.maxLength) fail(`options.max_seq_len must be at most ${info.maxLength} (the model's length), got ${maxSeqLen}`);
      if (maxSeqLen < least) fail(`options.max_seq_len must be at least ${least} (${info.addedPair} special tokens, a question and a context token), got ${maxSeqLen}`);
      const given = options?.doc_stride as number | undefined;
      const stride = given ?? Math.min(Math.floor(maxSeqLen / 2), 128);
      // Consecutive windows must advance: the stride stays below the room a one-token question leaves.
      const most = maxSeqLen - info.addedPair - 2;
      if (stride > most) {
        if (given !== undefined) fail(`options.doc_stride must be at most ${most} with max_seq_len ${maxSeqLen}, got ${given}`);
        fail(`options.max_seq_len ${maxSeqLen} is too small for its default doc_stride ${stride}: give a smaller doc_stride or a larger max_seq_len`);
      }
      break;
    }
  }
}
