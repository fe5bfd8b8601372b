// The demo page: the library's pipelines (fill-mask and text-classification) over checkpoints fetched by
// URL, run on the text in the box. Model folders come from the query string (?mlm=URL&cls=URL) or the inputs;
// by default the tasks' embedded models (the library's DEFAULT_MODELS), which the demo site carries in models/.
import { DEFAULT_MODELS, pipeline } from './deberta.js';

const DEFAULTS = { mlm: `models/${DEFAULT_MODELS['fill-mask']}/`, cls: `models/${DEFAULT_MODELS['text-classification']}/` };
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
$('mlm-url').value = params.get('mlm') ?? DEFAULTS.mlm;
$('cls-url').value = params.get('cls') ?? DEFAULTS.cls;

// WebGPU when the browser offers an adapter; a graph it cannot take falls back to WebAssembly ('cpu').
let device = 'cpu';
const cache = new Map(); // task + url -> pipeline

function setState(state, message) {
  document.body.dataset.state = state;
  $('status').textContent = message;
}

async function load(task, url) {
  const key = `${task} ${url}`;
  if (!cache.has(key)) {
    cache.set(key, (async () => {
      try {
        return await pipeline(task, url, { device });
      } catch (err) {
        if (device === 'cpu') throw err;
        console.warn(`WebGPU failed (${err instanceof Error ? err.message : err}); using WebAssembly`);
        device = 'cpu';
        return pipeline(task, url, { device });
      }
    })());
  }
  try {
    return await cache.get(key);
  } catch (err) {
    cache.delete(key);
    throw err;
  }
}

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function showFillMask(masks) {
  const body = $('fill-mask').tBodies[0];
  body.replaceChildren();
  masks.forEach((candidates, m) => {
    for (const c of candidates) {
      const tr = document.createElement('tr');
      tr.dataset.mask = String(m);
      tr.dataset.tokenId = String(c.token);
      tr.dataset.score = String(c.score);
      tr.append(cell(`#${m + 1}`), cell(c.token_str), cell(c.score.toFixed(4), 'num'));
      body.append(tr);
    }
  });
}

function showClassification(labels) {
  const body = $('classification').tBodies[0];
  body.replaceChildren();
  for (const l of labels) {
    const tr = document.createElement('tr');
    tr.dataset.label = l.label;
    tr.dataset.score = String(l.score);
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${Math.round(l.score * 120)}px`;
    const barCell = cell('');
    barCell.append(bar);
    tr.append(cell(l.label), cell(l.score.toFixed(4), 'num'), barCell);
    body.append(tr);
  }
}

async function run() {
  const text = $('text').value;
  $('error').textContent = '';
  $('run').disabled = true;
  setState('running', 'running…');
  const t0 = performance.now();
  try {
    const fill = await load('fill-mask', $('mlm-url').value);
    const classify = await load('text-classification', $('cls-url').value);
    const t1 = performance.now();
    const mask = fill.tokenizer.maskToken;
    const masks = text.split(mask).length - 1;
    if (masks > 0) {
      const out = await fill(text); // the task's default number of candidates
      showFillMask(masks === 1 ? [out] : out); // one list per mask
    } else {
      showFillMask([]);
      $('error').textContent = `Write ${mask} where a word should be filled in.`;
    }
    showClassification(await classify(text, { topK: null }));
    const loading = t1 - t0 > 1 ? `models loaded in ${Math.round(t1 - t0)} ms, ` : '';
    setState('done', `${loading}ran in ${Math.round(performance.now() - t1)} ms on ${device === 'webgpu' ? 'WebGPU' : 'WebAssembly'}`);
  } catch (err) {
    $('error').textContent = err instanceof Error ? err.message : String(err);
    setState('error', 'failed');
  } finally {
    $('run').disabled = false;
  }
}

$('run').addEventListener('click', run);
$('text').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) run(); });

try {
  if (navigator.gpu && await navigator.gpu.requestAdapter()) device = 'webgpu';
} catch { /* no adapter: WebAssembly */ }
$('run').disabled = false;
setState('ready', `ready (ONNX Runtime Web on ${device === 'webgpu' ? 'WebGPU' : 'WebAssembly'})`);
