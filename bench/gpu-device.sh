#!/usr/bin/env bash
# On the lent GPU machine, from the repository root, with .gpu/ carried (bench/gpu-kit.sh makes it):
# unpacks Node, ONNX Runtime and the Vulkan loader, then records the adapter (nvidia-smi, vulkaninfo),
# PyTorch CUDA's times (bench/torch-cuda.py), the WebGPU provider's float16 support and product rate
# (bench/gpu-probe.ts) and `npm run bench:gpu` against those PyTorch times; last, ours alone (no peer
# between its runs; the CPU only checks its logits) in float32 and float16, with and without padding
# skipped (the library's default layout, shifted rows). Steps not run by default: 'shift' (ours alone with
# relative attention by an index and by shifted rows, float32 and float16) and 'profile' (time by op at
# 32 × 512, both layouts, float32 and float16). Everything lands in $OUT (default /tmp/gpu-out), at most 8
# files per run of the default steps (what a device call brings back).
#
#   [STEPS='torch probe bench variants'] [TORCH_JSON=FILE (PyTorch's times from an earlier run)] bash bench/gpu-device.sh
set -u
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
kit=.gpu
STEPS=${STEPS:-torch probe bench variants}
step() { [[ " $STEPS " == *" $1 "* ]]; }
log() { echo "[$(date -u +%T)] $*" | tee -a "$OUT/log.txt"; }
run() { log "\$ $*"; "$@" 2>&1 | tee -a "$OUT/log.txt"; }

log "unpacking"
# The Vulkan loader and GL dispatch libraries to / (as the device notes say); vulkaninfo's own needs apart.
for p in libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2; do for f in "$kit"/debs/${p}_*.deb; do dpkg -x "$f" /; done; done
ldconfig
mkdir -p /tmp/vt && for f in "$kit"/debs/*.deb; do dpkg -x "$f" /tmp/vt; done
python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" "$kit/node.xz" /tmp/node
chmod +x /tmp/node
python3 -c "import tarfile, sys; tarfile.open(sys.argv[1]).extractall('.')" "$kit/ort.tar.xz"
cp "$kit"/gpu.mjs "$kit"/gpu-probe.mjs bench/
# The driver's own manifest: one under /etc or /usr/share may name a libGLX_nvidia.so.0 that has no Vulkan entry.
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

run nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
run /tmp/node --version
if step probe; then
  # The whole dump stays on the machine; the features that matter go to the log.
  LD_LIBRARY_PATH=/tmp/vt/usr/lib/x86_64-linux-gnu /tmp/vt/usr/bin/vulkaninfo >/tmp/vulkaninfo.txt 2>&1
  grep -E -m 12 'deviceName|driverVersion|apiVersion|shaderFloat16 |storageBuffer16BitAccess|uniformAndStorageBuffer16BitAccess|storageInputOutput16|cooperativeMatrix ' /tmp/vulkaninfo.txt | tee -a "$OUT/log.txt"
fi
run /tmp/node bench/peers/regen_weights.mjs bench/peers/v3-base-shape
if [ -n "${TORCH_JSON:-}" ]; then cp "$TORCH_JSON" "$OUT/torch-cuda.json"
elif step torch; then run python3 bench/torch-cuda.py --out "$OUT/torch-cuda.json"; fi
torch=(); [ -f "$OUT/torch-cuda.json" ] && torch=(--torch "$OUT/torch-cuda.json")
step probe && run /tmp/node bench/gpu-probe.mjs --save "$OUT/probe.json"
step bench && run /tmp/node bench/gpu.mjs "${torch[@]}" --save "$OUT/gpu.json"
if step variants; then
  for dtype in fp32 fp16; do
    run /tmp/node bench/gpu.mjs "${torch[@]}" --no-peer --cpu-check-only --dtype $dtype --save "$OUT/ours-$dtype.json"
    run /tmp/node bench/gpu.mjs "${torch[@]}" --no-peer --cpu-check-only --dtype $dtype --skip-padding --save "$OUT/ours-$dtype-skip-padding.json"
  done
fi
if step shift; then
  for dtype in fp32 fp16; do
    run /tmp/node bench/gpu.mjs "${torch[@]}" --no-peer --cpu-check-only --dtype $dtype --relative-index --save "$OUT/ours-$dtype-index.json"
    run /tmp/node bench/gpu.mjs "${torch[@]}" --no-peer --cpu-check-only --dtype $dtype --relative-shift --save "$OUT/ours-$dtype-shift.json"
  done
fi
if step profile; then
  for dtype in fp32 fp16; do run /tmp/node bench/gpu-probe.mjs --profile --dtype $dtype --save "$OUT/profile-$dtype.json"; done
fi
log "done"
