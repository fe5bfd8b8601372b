#!/usr/bin/env python3
"""PyTorch CUDA times for the peer shapes, on the machine `npm run bench:gpu` runs on (bench/gpu-device.sh).

transformers' DebertaV2ForSequenceClassification built from bench/peers/<shape>-shape/config.json (the weights
do not change the time), the inputs bench/inputs.ts makes, eager mode, medians of timed forward passes after
warm-ups, each ended by torch.cuda.synchronize(). Float32 with TF32 off (PyTorch's default for matrix
products), TF32 on, and bfloat16 weights. Also the matrix-product rate of the feed-forward products alone
(bench/gpu-probe.ts times the same chain on WebGPU). Writes JSON for bench/gpu.ts --torch.

    python3 bench/torch-cuda.py [--shape v3-base] [--cases 1x128,32x128,32x512] [--runs 20] [--out torch.json]
"""
import argparse
import json
import os
import statistics
import time

import torch
import transformers

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument('--shape', default='v3-base')
ap.add_argument('--cases', default='1x128,32x128,32x512')
ap.add_argument('--runs', type=int, default=20)
ap.add_argument('--out', default='torch-cuda.json')
args = ap.parse_args()


def make_inputs(vocab, batch, n):
    """bench/inputs.ts' makeInputs: row r keeps n - floor(r n / 2B) tokens."""
    ids = torch.zeros(batch, n, dtype=torch.int64)
    mask = torch.zeros(batch, n, dtype=torch.int64)
    for r in range(batch):
        length = n - (r * n) // (2 * batch)
        for i in range(length):
            k = r * n + i
            mask[r, i] = 1
            ids[r, i] = 1 if i == 0 else 2 if i == length - 1 else 5 + ((k * 2654435761) % 2**32) % (vocab - 5)
    return ids, mask


def median_ms(fn, runs, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


dev = torch.device('cuda')
config = transformers.DebertaV2Config.from_json_file(os.path.join(here, 'peers', f'{args.shape}-shape', 'config.json'))
torch.manual_seed(0)
model = transformers.DebertaV2ForSequenceClassification(config).eval().to(dev)
out = {
    'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
    'device': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'transformers': transformers.__version__,
    'shape': args.shape, 'runs': args.runs, 'forward_ms': {}, 'matmul_tflops': {},
}
for case in args.cases.split(','):
    b, n = (int(x) for x in case.split('x'))
    ids, mask = (t.to(dev) for t in make_inputs(config.vocab_size, b, n))
    for kind in ('fp32', 'tf32', 'bf16'):
        torch.backends.cuda.matmul.allow_tf32 = kind == 'tf32'
        torch.backends.cudnn.allow_tf32 = kind == 'tf32'
        m = model.to(torch.bfloat16) if kind == 'bf16' else model.to(torch.float32)
        with torch.inference_mode():
            t = median_ms(lambda: m(input_ids=ids, attention_mask=mask).logits, args.runs)
        out['forward_ms'][f'{kind}.b{b}.s{n}'] = t
        print(f'{case} {kind}: {t:.2f} ms', flush=True)
torch.backends.cuda.matmul.allow_tf32 = False

# The feed-forward products of 32 x 512 tokens, chained as bench/gpu-probe.ts chains them: 12 x (768 -> 3072 -> 768).
tokens, layers = 16384, 12
for kind, dtype in (('fp32', torch.float32), ('fp16', torch.float16)):
    x = torch.randn(tokens, config.hidden_size, device=dev, dtype=dtype)
    w1 = torch.randn(config.hidden_size, config.intermediate_size, device=dev, dtype=dtype) / config.hidden_size ** 0.5
    w2 = torch.randn(config.intermediate_size, config.hidden_size, device=dev, dtype=dtype) / config.intermediate_size ** 0.5

    def chain():
        y = x
        for _ in range(layers):
            y = (y @ w1) @ w2
        return y

    t = median_ms(chain, 10)
    flop = layers * 2 * 2 * tokens * config.hidden_size * config.intermediate_size
    out['matmul_tflops'][kind] = flop / (t / 1e3) / 1e12
    print(f'matmul chain {kind}: {t:.2f} ms, {out["matmul_tflops"][kind]:.1f} TFLOP/s', flush=True)

with open(args.out, 'w') as f:
    json.dump(out, f, indent=1)
print(f'wrote {args.out}')
