// What the spam model reads of an email (src/datasets/spam.ts): real SpamAssassin messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { emailText, emailViews, isSpamHeldOut, spamCorpusDir, spamGroupFiles } from '../src/datasets/spam.ts';

const raw = (group: string, file: string) => readFileSync(join(spamCorpusDir(), group, file));

test('emailText: subject, sender and the decoded text of a multipart message, without MIME boilerplate', async () => {
  const text = await emailText(raw('hard-ham-1', '00210.79fd0e04bf1db9acf7fcfa18898b2fe3.txt'), 200);
  assert.ok(text.startsWith('[SQL] Database joins From: Jay <jayps@addr.com> Hi, I have created two databases, db1 and db2'), text);
  assert.ok(!/multi-part message|NextPart/.test(text), text);
  assert.equal(text.length, 200);
});

test('emailText: an HTML-only body becomes its visible text, entities decoded', async () => {
  const text = await emailText(raw('hard-ham-1', '00025.c27f4dd57c84c01305bd30bdee96810b.txt'), 1200);
  assert.ok(text.startsWith('Looking for the perfect camera for your summer vacation? (CNET SHOPPER) From: CNET Shopper Electronics Edition'), text);
  assert.ok(text.includes('CNET Shopper Newsletter: Electronics Edition'), text);
  assert.ok(!/[<>]\w|&nbsp;|&#\d+;/.test(text.replace(/<[^ ]*@[^ ]*>/, '')), text);
});

test('emailText: quoted-printable soft line breaks are joined', async () => {
  const text = await emailText(raw('spam-2', '00924.3b34d4e598f24957151e368efcfb069b.txt'), 400);
  assert.ok(text.includes('en onemlisi Turkiye ye de odeme yapan bir sponsor'), text);
});

test('the held-out split: every fifth message of each group', () => {
  const files = spamGroupFiles('hard-ham-1');
  assert.equal(files.length, 250);
  assert.equal(files.filter((_, i) => isSpamHeldOut(i)).length, 50);
  assert.deepEqual([0, 3, 4, 9].map(isSpamHeldOut), [false, false, true, true]);
});

test('emailViews: the short view is the opening sentences of the body, quoted lines left out, 40 to 200 characters', async () => {
  const sql = await emailViews(raw('hard-ham-1', '00210.79fd0e04bf1db9acf7fcfa18898b2fe3.txt'), 1200);
  assert.equal(sql.text, await emailText(raw('hard-ham-1', '00210.79fd0e04bf1db9acf7fcfa18898b2fe3.txt'), 1200));
  assert.ok(sql.short.startsWith('Hi, I have created two databases, db1 and db2'), sql.short);
  const spam = await emailViews(raw('spam-2', '00924.3b34d4e598f24957151e368efcfb069b.txt'), 1200);
  assert.equal(spam.short, 'CashIC.com \uFFFDnternetten para kazandiran, en onemlisi Turkiye ye de odeme yapan bir sponsor.');
  const quoted = '> an earlier message, quoted\n> on two lines.\nShort reply.\nAnd a second sentence that makes it long enough. A third one.';
  const reply = await emailViews(`Subject: Re: x\nFrom: a@b.c\n\n${quoted}\n`, 1200);
  assert.equal(reply.short, 'Short reply. And a second sentence that makes it long enough.');
  assert.equal((await emailViews('Subject: only a subject\nFrom: a@b.c\n\n', 1200)).short, 'only a subject');
});
