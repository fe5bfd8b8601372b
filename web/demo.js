// The demo page: loads a fill-mask and a classification checkpoint over HTTP and runs them on the
// text in the box. Model folders come from the query string (?mlm=URL&cls=URL) or the inputs.
import { classify, fillMask, initRuntime, loadModelFromUrl, loadTokenizerFromUrl } from './deberta.js';

const DEFAULTS = { mlm: 'models/deberta-v3-brown-small/', cls: 'models/deberta-v3-brown-small-spam/' };
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
$('mlm-url').value = params.get('mlm') ?? DEFAULTS.mlm;
$('cls-url').value = params.get('cls') ?? DEFAULTS.cls;

let runtime;
const cache = new Map(); // url + head -> { model, tokenizer }

function setState(state, message) {
  document.body.dataset.state = state;
  $('status').textContent = message;
}

async function load(url, head) {
  const key = `${head} ${url}`;
  if (!cache.has(key)) {
    cache.set(key, (async () => {
      const opts = { threads: runtime.threads, executionProviders: runtime.executionProviders };
      const tokenizer = loadTokenizerFromUrl(url);
      let model;
      try {
        model = await loadModelFromUrl(url, head, opts);
      } catch (err) {
        if (!opts.executionProviders.includes('webgpu')) throw err;
        // A graph WebGPU cannot take: stay on WebAssembly from now on.
        console.warn(`WebGPU failed (${err instanceof Error ? err.message : err}); using WebAssembly`);
        runtime.executionProviders = ['wasm'];
        model = await loadModelFromUrl(url, head, { ...opts, executionProviders: ['wasm'] });
      }
      return { model, tokenizer: await tokenizer };
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
    const mlm = await load($('mlm-url').value, 'masked-lm');
    const cls = await load($('cls-url').value, 'sequence-classification');
    const t1 = performance.now();
    if (text.includes(mlm.tokenizer.maskToken)) showFillMask(await fillMask(mlm.model, mlm.tokenizer, text, 5));
    else {
      showFillMask([]);
      $('error').textContent = `Write ${mlm.tokenizer.maskToken} where a word should be filled in.`;
    }
    showClassification(await classify(cls.model, cls.tokenizer, text));
    const loading = t1 - t0 > 1 ? `models loaded in ${Math.round(t1 - t0)} ms, ` : '';
    setState('done', `${loading}ran in ${Math.round(performance.now() - t1)} ms on ${runtime.executionProviders[0]}`);
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
  runtime = await initRuntime();
  $('run').disabled = false;
  setState('ready', `ready (ONNX Runtime Web, ${runtime.executionProviders.join(' + ')}, ${runtime.threads} thread${runtime.threads > 1 ? 's' : ''})`);
} catch (err) {
  $('error').textContent = err instanceof Error ? err.message : String(err);
  setState('error', 'the runtime did not start');
}
