// Post-processors: add the special tokens around one sequence or a pair and set the token type ids
// (`[CLS] A [SEP]`, `[CLS] A [SEP] B [SEP]` for DeBERTa), as `tokenizers` does.
import { Encoding } from './encoding.ts';
import { type Json, describe, fail, list, object, oneOf, optBool, optList, optU32, string, typeOf, u32 } from './json-fields.ts';

export interface PostProcessor {
  /** How many tokens `process` adds around a single sequence or a pair. */
  addedTokens(isPair: boolean): number;
  /** Processes [A] or [A, B] (each possibly with overflowing windows) into final encodings. */
  processEncodings(encodings: Encoding[], addSpecialTokens: boolean): Encoding[];
}


export type TemplatePiece = { kind: 'sequence'; seq: 0 | 1; typeId: number } | { kind: 'special'; name: string; typeId: number };

export class TemplateProcessing implements PostProcessor {
  constructor(
    private single: TemplatePiece[],
    private pair: TemplatePiece[],
    private specials: Map<string, { ids: number[]; tokens: string[] }>,
    where = 'TemplateProcessing',
  ) {
    for (const p of [...single, ...pair]) {
      if (p.kind === 'special' && !specials.has(p.name)) throw new Error(`${where}: special token ${JSON.stringify(p.name)} is used by the template but not defined`);
    }
  }

  private made = new Map<string, Encoding>();

  /** The encoding of a special token (shared: merging only reads it). */
  private specialEncoding(name: string, typeId: number): Encoding {
    const key = `${typeId}\u0000${name}`;
    let e = this.made.get(key);
    if (!e) {
      const sp = this.specials.get(name)!;
      const len = sp.ids.length;
      e = new Encoding(Uint32Array.from(sp.ids), new Uint32Array(len).fill(typeId), new Int32Array(len), new Int32Array(len),
        new Uint8Array(len).fill(1), new Uint8Array(len).fill(1), new Int8Array(len).fill(-1));
      this.made.set(key, e);
    }
    return e;
  }

  addedTokens(isPair: boolean): number {
    let n = 0;
    for (const p of isPair ? this.pair : this.single) if (p.kind === 'special') n += this.specials.get(p.name)!.ids.length;
    return n;
  }

  processEncodings(encodings: Encoding[], addSpecialTokens: boolean): Encoding[] {
    const template = encodings.length === 2 ? this.pair : this.single;
    const out: Encoding[] = [];
    for (const p of template) {
      if (p.kind === 'sequence') {
        const e = encodings[p.seq];
        if (!e) continue;
        // Only the main encoding takes the template's type id; overflowing windows keep theirs.
        // (A sequence used twice by the template is copied the second time.)
        const target = out.includes(e) ? e.clone() : e;
        target.setTypeIds(p.typeId);
        out.push(target);
      } else if (addSpecialTokens) {
        out.push(this.specialEncoding(p.name, p.typeId));
      }
    }
    return out;
  }
}

/** Offsets of byte-level tokens shrunk to leave out leading and trailing spaces (`trim_offsets`). */
export class ByteLevelProcessing implements PostProcessor {
  constructor(
    private trimOffsets: boolean,
    private addPrefixSpace: boolean,
    private tokenText: (id: number) => string,
  ) {}
  addedTokens(): number {
    return 0;
  }
  processEncodings(encodings: Encoding[]): Encoding[] {
    if (this.trimOffsets) {
      for (const e of encodings) {
        this.trim(e);
        for (const o of e.overflowing) this.trim(o);
      }
    }
    return encodings;
  }
  trim(e: Encoding): void {
    for (let i = 0; i < e.ids.length; i++) {
      const chars = [...(this.tokenText(e.ids[i]!) ?? '')];
      const space = (c: string): boolean => c === 'Ġ' || /^\s$/u.test(c);
      let lead = 0;
      while (lead < chars.length && space(chars[lead]!)) lead++;
      let trail = 0;
      while (trail < chars.length && space(chars[chars.length - 1 - trail]!)) trail++;
      if (lead > 0) {
        const isFirst = i === 0 || e.starts[i] === 0;
        if (isFirst && this.addPrefixSpace && lead === 1) lead = 0;
        e.starts[i] = Math.min(e.starts[i]! + lead, e.ends[i]!);
      }
      if (trail > 0 && e.ends[i]! >= trail) e.ends[i] = Math.max(e.ends[i]! - trail, e.starts[i]!);
    }
  }
}

export class SequenceProcessing implements PostProcessor {
  constructor(private list: PostProcessor[]) {}
  addedTokens(isPair: boolean): number {
    return this.list.reduce((n, p) => n + p.addedTokens(isPair), 0);
  }
  processEncodings(encodings: Encoding[], addSpecialTokens: boolean): Encoding[] {
    for (const p of this.list) encodings = p.processEncodings(encodings, addSpecialTokens);
    return encodings;
  }
}

function parseTemplate(t: unknown, where: string): TemplatePiece[] {
  if (typeof t === 'string') t = t.split(/\s+/).filter(Boolean);
  return list(t, where).map((p, i): TemplatePiece => {
    const at = `${where}[${i}]`;
    if (typeof p === 'string') {
      // String form: "$A", "$B:1", "$0", "[CLS]:0".
      const m = /^(.*?)(?::(\d+))?$/.exec(p)!;
      const name = m[1]!;
      const typeId = m[2] ? u32(Number(m[2]), `${at} (type id)`) : 0;
      if (name === '$' || name === '$A') return { kind: 'sequence', seq: 0, typeId };
      if (name === '$B') return { kind: 'sequence', seq: 1, typeId };
      if (/^\$\d+$/.test(name)) return { kind: 'sequence', seq: 0, typeId: u32(Number(name.slice(1)), `${at} (type id)`) };
      return { kind: 'special', name, typeId };
    }
    const o = object(p, at);
    if (o.Sequence !== undefined) {
      const q = object(o.Sequence, `${at}.Sequence`);
      const id = oneOf(q, 'id', `${at}.Sequence`, ['A', 'B'] as const, 'A');
      return { kind: 'sequence', seq: id === 'B' ? 1 : 0, typeId: optU32(q, 'type_id', `${at}.Sequence`, 0) };
    }
    if (o.SpecialToken !== undefined) {
      const q = object(o.SpecialToken, `${at}.SpecialToken`);
      return { kind: 'special', name: string(q.id, `${at}.SpecialToken.id`), typeId: optU32(q, 'type_id', `${at}.SpecialToken`, 0) };
    }
    throw new Error(`${at}: expected "Sequence" or "SpecialToken", got ${describe(p)}${Object.keys(o).length ? ` with ${Object.keys(o).map((k) => JSON.stringify(k)).join(', ')}` : ''}`);
  });
}

/** A [token, id] pair (BertProcessing's and RobertaProcessing's `sep` and `cls`). */
function tokenAndId(v: unknown, where: string): [string, number] {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string') fail(where, 'a [token, id] pair', v);
  return [v[0], u32(v[1], `${where}[1]`)];
}

export function templateFromStrings(single: string, pair: string, specials: [string, number][]): TemplateProcessing {
  return new TemplateProcessing(
    parseTemplate(single, 'single'),
    parseTemplate(pair, 'pair'),
    new Map(specials.map(([name, id]) => [name, { ids: [id], tokens: [name] }])),
  );
}

export function buildPostProcessor(json: Json, where: string, tokenText: (id: number) => string): PostProcessor {
  const type = typeOf(json, where, 'post_processor');
  switch (type) {
    case 'TemplateProcessing': {
      const specials = new Map<string, { ids: number[]; tokens: string[] }>();
      const table = json.special_tokens == null ? {} : object(json.special_tokens, `${where}.special_tokens`);
      for (const [name, v] of Object.entries(table)) {
        const at = `${where}.special_tokens[${JSON.stringify(name)}]`;
        const o = object(v, at);
        const ids = list(o.ids, `${at}.ids`).map((id, i) => u32(id, `${at}.ids[${i}]`));
        const tokens = list(o.tokens, `${at}.tokens`).map((t, i) => string(t, `${at}.tokens[${i}]`));
        if (ids.length !== tokens.length) throw new Error(`${at}: ${ids.length} ids for ${tokens.length} tokens`);
        specials.set(name, { ids, tokens });
      }
      return new TemplateProcessing(parseTemplate(json.single, `${where}.single`), parseTemplate(json.pair, `${where}.pair`), specials, where);
    }
    case 'BertProcessing': {
      const [sep, sepId] = tokenAndId(json.sep, `${where}.sep`);
      const [cls, clsId] = tokenAndId(json.cls, `${where}.cls`);
      return templateFromStrings(`${cls}:0 $A:0 ${sep}:0`, `${cls}:0 $A:0 ${sep}:0 $B:1 ${sep}:1`, [
        [cls, clsId],
        [sep, sepId],
      ]);
    }
    case 'RobertaProcessing': {
      const [sep, sepId] = tokenAndId(json.sep, `${where}.sep`);
      const [cls, clsId] = tokenAndId(json.cls, `${where}.cls`);
      const template = templateFromStrings(`${cls} $A ${sep}`, `${cls} $A ${sep} ${sep} $B ${sep}`, [
        [cls, clsId],
        [sep, sepId],
      ]);
      if (!optBool(json, 'trim_offsets', where, true)) return template;
      return new SequenceProcessing([new ByteLevelProcessing(true, optBool(json, 'add_prefix_space', where, true), tokenText), template]);
    }
    case 'ByteLevel':
      return new ByteLevelProcessing(optBool(json, 'trim_offsets', where, true), optBool(json, 'add_prefix_space', where, true), tokenText);
    case 'Sequence':
      return new SequenceProcessing(optList(json, 'processors', where).map((p, i) => buildPostProcessor(p as Json, `${where}.processors[${i}]`, tokenText)));
    default:
      throw new Error(`${where}: unsupported post_processor ${JSON.stringify(type)}`);
  }
}
