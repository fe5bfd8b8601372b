// Evaluation metrics, defined as the usual references compute them: accuracy and macro-F1 as
// scikit-learn (macro over the labels seen in either gold or predictions, 0 where undefined), entity
// F1 as seqeval's default (conlleval chunking of IOB1/IOB2/IOBES tags, micro-averaged), exact match and
// F1 as the SQuAD v1.1 evaluation script, multi-label micro / macro F1 and exact match as scikit-learn,
// Pearson and Spearman correlation as scipy. Scores are fractions in [0, 1] (correlations in [-1, 1];
// MSE unbounded).

export function argmax(row: ArrayLike<number>, offset = 0, n = row.length - offset): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (row[offset + i]! > row[offset + best]!) best = i;
  return best;
}

export function accuracy(pred: readonly number[], gold: readonly number[]): number {
  if (pred.length !== gold.length) throw new Error(`accuracy: ${pred.length} predictions for ${gold.length} labels`);
  if (gold.length === 0) return 0;
  let hit = 0;
  for (let i = 0; i < gold.length; i++) if (pred[i] === gold[i]) hit++;
  return hit / gold.length;
}

export function macroF1(pred: readonly number[], gold: readonly number[]): number {
  if (pred.length !== gold.length) throw new Error(`macroF1: ${pred.length} predictions for ${gold.length} labels`);
  const labels = [...new Set([...gold, ...pred])];
  if (labels.length === 0) return 0;
  let sum = 0;
  for (const l of labels) {
    let tp = 0, fp = 0, fn = 0;
    for (let i = 0; i < gold.length; i++) {
      if (pred[i] === l && gold[i] === l) tp++;
      else if (pred[i] === l) fp++;
      else if (gold[i] === l) fn++;
    }
    sum += tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
  }
  return sum / labels.length;
}

/** Accuracy over the labelled positions of each sequence (word-level labels, no -100 entries). */
export function tokenAccuracy(pred: readonly (readonly string[])[], gold: readonly (readonly string[])[]): number {
  let hit = 0, total = 0;
  gold.forEach((g, i) => {
    const p = pred[i]!;
    if (p.length !== g.length) throw new Error(`tokenAccuracy: sequence ${i} has ${p.length} predictions for ${g.length} labels`);
    for (let j = 0; j < g.length; j++) { total++; if (p[j] === g[j]) hit++; }
  });
  return total === 0 ? 0 : hit / total;
}

interface Chunk { type: string; start: number; end: number }

function splitTag(tag: string): [string, string] {
  if (tag === 'O' || tag === '') return ['O', ''];
  const m = /^([BIESLU])[-_](.*)$/.exec(tag);
  return m ? [m[1]!, m[2]!] : ['I', tag]; // a bare type name counts as inside that type
}

// conlleval's rules, with IOBES: a chunk ends before a tag that starts one or changes type, after E/S.
function endsBefore(prevTag: string, prevType: string, tag: string, type: string): boolean {
  if (prevTag === 'E' || prevTag === 'S' || prevTag === 'L' || prevTag === 'U') return true;
  if (prevTag === 'O') return false;
  return tag === 'B' || tag === 'S' || tag === 'U' || tag === 'O' || prevType !== type;
}
function startsAt(prevTag: string, prevType: string, tag: string, type: string): boolean {
  if (tag === 'B' || tag === 'S' || tag === 'U') return true;
  if (tag === 'O') return false;
  return prevTag === 'E' || prevTag === 'S' || prevTag === 'L' || prevTag === 'U' || prevTag === 'O' || prevType !== type;
}

/** Entity chunks of one tag sequence. */
export function chunks(tags: readonly string[]): Chunk[] {
  const out: Chunk[] = [];
  let prevTag = 'O', prevType = '', start = -1;
  for (let i = 0; i <= tags.length; i++) {
    const [tag, type] = i < tags.length ? splitTag(tags[i]!) : ['O', ''];
    if (start >= 0 && endsBefore(prevTag, prevType, tag, type)) { out.push({ type: prevType, start, end: i }); start = -1; }
    if (startsAt(prevTag, prevType, tag, type)) start = i;
    prevTag = tag; prevType = type;
  }
  return out;
}

export function entityScores(pred: readonly (readonly string[])[], gold: readonly (readonly string[])[]) {
  let tp = 0, nPred = 0, nGold = 0;
  gold.forEach((g, i) => {
    const key = (c: Chunk) => `${c.type}\u0000${c.start}\u0000${c.end}`;
    const goldSet = new Set(chunks(g).map(key));
    const predChunks = chunks(pred[i]!);
    nGold += goldSet.size;
    nPred += predChunks.length;
    for (const c of predChunks) if (goldSet.has(key(c))) tp++;
  });
  const precision = nPred === 0 ? 0 : tp / nPred;
  const recall = nGold === 0 ? 0 : tp / nGold;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1 };
}

/** SQuAD's normalisation: lower case, no ASCII punctuation, no articles, single spaces. */
export function normalizeAnswer(s: string): string {
  return s.toLowerCase()
    .replace(/[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g, '')
    .replace(/\b(a|an|the)\b/g, ' ')
    .split(/\s+/).filter((w) => w !== '').join(' ');
}

function tokenF1(pred: string, gold: string): number {
  const p = normalizeAnswer(pred).split(' ').filter(Boolean);
  const g = normalizeAnswer(gold).split(' ').filter(Boolean);
  if (p.length === 0 || g.length === 0) return p.length === g.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const w of g) counts.set(w, (counts.get(w) ?? 0) + 1);
  let same = 0;
  for (const w of p) { const c = counts.get(w) ?? 0; if (c > 0) { same++; counts.set(w, c - 1); } }
  if (same === 0) return 0;
  const precision = same / p.length, recall = same / g.length;
  return (2 * precision * recall) / (precision + recall);
}

/** Exact match and F1, each the best over an example's gold answers, averaged over examples. */
export function squadScores(pred: readonly string[], gold: readonly (readonly string[])[]) {
  let em = 0, f1 = 0;
  gold.forEach((answers, i) => {
    const p = pred[i]!;
    const list = answers.length ? answers : [''];
    em += Math.max(...list.map((a) => (normalizeAnswer(a) === normalizeAnswer(p) ? 1 : 0)));
    f1 += Math.max(...list.map((a) => tokenF1(p, a)));
  });
  const n = Math.max(1, gold.length);
  return { exactMatch: em / n, f1: f1 / n };
}

/**
 * Multi-label scores of 0/1 predictions against 0/1 gold vectors, as scikit-learn computes them: micro
 * F1 over every (example, label) cell; macro F1 the mean over all labels, 0 for a label never gold nor
 * predicted (zero_division's default); exact match the share of examples with every label right.
 */
export function multiLabelScores(pred: readonly (readonly number[])[], gold: readonly (readonly number[])[]) {
  if (pred.length !== gold.length) throw new Error(`multiLabelScores: ${pred.length} predictions for ${gold.length} labels`);
  const n = gold[0]?.length ?? 0;
  const tp = new Array<number>(n).fill(0), fp = [...tp], fn = [...tp];
  let exact = 0;
  gold.forEach((g, i) => {
    const p = pred[i]!;
    if (p.length !== n || g.length !== n) throw new Error(`multiLabelScores: example ${i} has ${p.length} predictions and ${g.length} labels, expected ${n}`);
    let same = true;
    for (let k = 0; k < n; k++) {
      if (p[k] && g[k]) tp[k]!++;
      else if (p[k]) fp[k]!++;
      else if (g[k]) fn[k]!++;
      if (!p[k] !== !g[k]) same = false;
    }
    if (same) exact++;
  });
  const f1 = (t: number, f: number, m: number) => (t === 0 ? 0 : (2 * t) / (2 * t + f + m));
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    microF1: f1(sum(tp), sum(fp), sum(fn)),
    macroF1: n === 0 ? 0 : sum(tp.map((t, k) => f1(t, fp[k]!, fn[k]!))) / n,
    exactMatch: gold.length === 0 ? 0 : exact / gold.length,
  };
}

export function meanSquaredError(pred: readonly number[], gold: readonly number[]): number {
  if (pred.length !== gold.length) throw new Error(`meanSquaredError: ${pred.length} predictions for ${gold.length} values`);
  let s = 0;
  for (let i = 0; i < gold.length; i++) s += (pred[i]! - gold[i]!) ** 2;
  return gold.length === 0 ? 0 : s / gold.length;
}

/** Pearson's correlation; NaN when either side is constant (as scipy). */
export function pearson(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new Error(`pearson: ${x.length} vs ${y.length} values`);
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n, my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx, dy = y[i]! - my;
    sxy += dx * dy; sxx += dx * dx; syy += dy * dy;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}

/** Ranks from 1, ties sharing their average rank. */
export function ranks(x: readonly number[]): number[] {
  const order = [...x.keys()].sort((a, b) => x[a]! - x[b]!);
  const r = new Array<number>(x.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && x[order[j + 1]!] === x[order[i]!]) j++;
    for (let k = i; k <= j; k++) r[order[k]!] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** Spearman's correlation: Pearson's over average ranks (scipy.stats.spearmanr). */
export function spearman(x: readonly number[], y: readonly number[]): number {
  return pearson(ranks(x), ranks(y));
}
