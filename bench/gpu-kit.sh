#!/usr/bin/env bash
# Makes .gpu/, what bench/gpu-device.sh needs on a GPU machine that has no Node.js: this machine's `node`
# (xz, ~24 MB), onnxruntime-node's Linux x64 files and onnxruntime-common (~13 MB), bench/gpu.ts and
# bench/gpu-probe.ts bundled with esbuild (ONNX Runtime left outside), and Debian's Vulkan loader, the GL
# dispatch libraries and vulkaninfo. .gpu/ is ignored through .git/info/exclude; a device call carries it.
# Node, ONNX Runtime and the packages already there are kept (the bundles are always rebuilt) unless --fresh.
#
#   bash bench/gpu-kit.sh [--fresh]          then, on the GPU machine:  bash bench/gpu-device.sh
set -euo pipefail
cd "$(dirname "$0")/.."
kit=.gpu
[ "${1:-}" = --fresh ] && rm -rf "$kit"
mkdir -p "$kit/debs" .git/info && touch .git/info/exclude
grep -qx '/.gpu/' .git/info/exclude || echo '/.gpu/' >>.git/info/exclude

node_modules/.bin/esbuild bench/gpu.ts bench/gpu-probe.ts --bundle --platform=node --format=esm --target=node20 \
  --outdir="$kit" --out-extension:.js=.mjs --log-level=warning \
  --external:onnxruntime-node --external:onnxruntime-common --external:onnxruntime-web \
  --banner:js="import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
[ -f "$kit/ort.tar.xz" ] || tar -cJf "$kit/ort.tar.xz" node_modules/onnxruntime-node/package.json node_modules/onnxruntime-node/dist \
  node_modules/onnxruntime-node/bin/napi-v6/linux/x64 node_modules/onnxruntime-common/package.json node_modules/onnxruntime-common/dist
[ -f "$kit/node.xz" ] || xz -9e -T0 -c "$(command -v node)" >"$kit/node.xz"
# vulkaninfo and what it links to are unpacked apart from / on the GPU machine (the loader and GL dispatch go to /).
[ -n "$(ls "$kit/debs")" ] || (cd "$kit/debs" && apt-get download -q libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 \
  libgles2 vulkan-tools libwayland-client0 libx11-6 libx11-data libxcb1 libxau6 libxdmcp6 libbsd0 libffi8 libmd0 2>&1 \
  | grep -v '^W: Download is performed unsandboxed' || true)
du -sh "$kit"/* | sed 's/^/  /'
