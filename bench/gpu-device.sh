#!/usr/bin/env bash
# On the lent GPU machine, from the repository root, with .gpu/ carried (bench/gpu-kit.sh makes it):
# unpacks Node, ONNX Runtime and the Vulkan loader, then records the adapter (nvidia-smi, vulkaninfo),
# PyTorch CUDA's times (bench/torch-cuda.py), the WebGPU provider's float16 support and product rate
# (bench/gpu-probe.ts) and `npm run bench:gpu` against those PyTorch times; last, ours alone at 32 × 512
# skipping padding. Everything lands in $OUT (default /tmp/gpu-out).
set -u
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
kit=.gpu
log() { echo "[$(date -u +%T)] $*" | tee -a "$OUT/log.txt"; }
run() { log "\$ $*"; "$@" 2>&1 | tee -a "$OUT/log.txt"; }

log "unpacking"
for f in "$kit"/debs/libvulkan1_*.deb; do dpkg -x "$f" /; done
ldconfig
mkdir -p /tmp/vt && for f in "$kit"/debs/*.deb; do dpkg -x "$f" /tmp/vt; done
python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" "$kit/node.xz" /tmp/node
chmod +x /tmp/node
python3 -c "import tarfile, sys; tarfile.open(sys.argv[1]).extractall('.')" "$kit/ort.tar.xz"
cp "$kit"/gpu.mjs "$kit"/gpu-probe.mjs bench/
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if ! ls /usr/share/vulkan/icd.d/*nvidia* /etc/vulkan/icd.d/*nvidia* >/dev/null 2>&1 && [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

run nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
run /tmp/node --version
LD_LIBRARY_PATH=/tmp/vt/usr/lib/x86_64-linux-gnu /tmp/vt/usr/bin/vulkaninfo >"$OUT/vulkaninfo.txt" 2>&1
grep -E -m 12 'deviceName|driverVersion|apiVersion|shaderFloat16 |storageBuffer16BitAccess|uniformAndStorageBuffer16BitAccess|storageInputOutput16|cooperativeMatrix ' "$OUT/vulkaninfo.txt" | tee -a "$OUT/log.txt"
run /tmp/node bench/peers/regen_weights.mjs bench/peers/v3-base-shape
run python3 bench/torch-cuda.py --out "$OUT/torch-cuda.json"
run /tmp/node bench/gpu-probe.mjs --save "$OUT/probe.json"
run /tmp/node bench/gpu.mjs --torch "$OUT/torch-cuda.json" --save "$OUT/gpu.json"
run /tmp/node bench/gpu.mjs --cases 32x512 --no-peer --no-cpu --skip-padding --torch "$OUT/torch-cuda.json" --save "$OUT/gpu-skip-padding.json"
log "done"
