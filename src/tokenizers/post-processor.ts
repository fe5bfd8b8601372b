// Post-processors: add the special tokens around one sequence or a pair and set the token type ids
// (`[CLS] A [SEP]`, `[CLS] A [SEP] B [SEP]` for DeBERTa), as `tokenizers` does.
import { Encoding } from './encoding.ts';

export interface PostProcessor {
  /** How many tokens `process` adds around a single sequence or a pair. */
  addedTokens(isPair: boolean): number;
  /** Processes [A] or [A, B] (each possibly with overflowing windows) into final encodings. */
  processEncodings(encodings: Encoding[], addSpecialTokens: boolean): Encoding[];
}

type Json = Record<string, unknown>;

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
  if (!Array.isArray(t)) throw new Error(`${where}: template must be a list`);
  return t.map((p, i) => {
    if (typeof p === 'string') {
      // String form: "$A", "$B:1", "$0", "[CLS]:0".
      const m = /^(.*?)(?::(\d+))?$/.exec(p)!;
      const name = m[1]!;
      const typeId = m[2] ? Number(m[2]) : 0;
      if (name === '$' || name === '$A') return { kind: 'sequence', seq: 0, typeId };
      if (name === '$B') return { kind: 'sequence', seq: 1, typeId };
      if (/^\$\d+$/.test(name)) return { kind: 'sequence', seq: 0, typeId: Number(name.slice(1)) };
      return { kind: 'special', name, typeId };
    }
    const o = p as { Sequence?: { id: string; type_id: number }; SpecialToken?: { id: string; type_id: number } };
    if (o.Sequence) return { kind: 'sequence', seq: o.Sequence.id === 'B' ? 1 : 0, typeId: o.Sequence.type_id ?? 0 };
    if (o.SpecialToken) return { kind: 'special', name: o.SpecialToken.id, typeId: o.SpecialToken.type_id ?? 0 };
    throw new Error(`${where}[${i}]: unknown template piece ${JSON.stringify(p)}`);
  });
}

export function templateFromStrings(single: string, pair: string, specials: [string, number][]): TemplateProcessing {
  return new TemplateProcessing(
    parseTemplate(single, 'single'),
    parseTemplate(pair, 'pair'),
    new Map(specials.map(([name, id]) => [name, { ids: [id], tokens: [name] }])),
  );
}

export function buildPostProcessor(json: Json, where: string, tokenText: (id: number) => string): PostProcessor {
  const type = json.type as string;
  switch (type) {
    case 'TemplateProcessing': {
      const specials = new Map<string, { ids: number[]; tokens: string[] }>();
      for (const [name, v] of Object.entries((json.special_tokens as Record<string, { ids: number[]; tokens: string[] }>) ?? {})) {
        specials.set(name, { ids: v.ids, tokens: v.tokens });
      }
      return new TemplateProcessing(parseTemplate(json.single, `${where}.single`), parseTemplate(json.pair, `${where}.pair`), specials, where);
    }
    case 'BertProcessing': {
      const [sep, sepId] = json.sep as [string, number];
      const [cls, clsId] = json.cls as [string, number];
      return templateFromStrings(`${cls}:0 $A:0 ${sep}:0`, `${cls}:0 $A:0 ${sep}:0 $B:1 ${sep}:1`, [
        [cls, clsId],
        [sep, sepId],
      ]);
    }
    case 'RobertaProcessing': {
      const [sep, sepId] = json.sep as [string, number];
      const [cls, clsId] = json.cls as [string, number];
      const template = templateFromStrings(`${cls} $A ${sep}`, `${cls} $A ${sep} ${sep} $B ${sep}`, [
        [cls, clsId],
        [sep, sepId],
      ]);
      if (json.trim_offsets === false) return template;
      return new SequenceProcessing([new ByteLevelProcessing(true, json.add_prefix_space !== false, tokenText), template]);
    }
    case 'ByteLevel':
      return new ByteLevelProcessing(json.trim_offsets !== false, json.add_prefix_space !== false, tokenText);
    case 'Sequence':
      return new SequenceProcessing(((json.processors as Json[]) ?? []).map((p, i) => buildPostProcessor(p, `${where}.processors[${i}]`, tokenText)));
    default:
      throw new Error(`${where}: unsupported post_processor ${JSON.stringify(type)}`);
  }
}
