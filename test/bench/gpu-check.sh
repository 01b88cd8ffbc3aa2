#!/usr/bin/env bash
# The GPU check for the webgpu backend (@tensorflow/tfjs-backend-webgpu on Dawn's `webgpu`
# package), to run on a machine with a GPU and its Vulkan driver (Linux) / Metal (macOS) / D3D12
# (Windows): what the machine offers, the training-op tests on every backend that loads (webgpu
# among them, compared with the cpu backend), then `bench:train` forced onto webgpu, which prints
# its samples/s beside PyTorch CPU on the same machine (RATIO lines).
#
# Usage: test/bench/gpu-check.sh [extra bench:train flags, e.g. --seconds 5]
# Exit status: non-zero when webgpu does not load (the reason is printed) or a step fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "== machine"
uname -a
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || echo "nvidia-smi: not found"
if [ "$(uname)" = Linux ]; then
  # Dawn needs the Vulkan loader and a GPU driver's ICD to find an adapter on Linux.
  ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' && echo "libvulkan.so.1: present" || echo "libvulkan.so.1: missing (Dawn will find no adapter)"
  ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null || echo "no Vulkan ICD files"
fi
node --version

echo "== does webgpu load?"
npx tsx -e "
  import('./main/worker/backend.ts').then(async ({ initBackend }) => {
    try {
      console.log(JSON.stringify(await initBackend('webgpu')));
    } catch (error) {
      console.error(error.message);
      process.exit(1);
    }
  });
"

echo "== training ops on every backend that loads, against cpu"
npx vitest run test/unit/kernels-backends.test.ts

echo "== bench:train on webgpu"
npm run bench:train -- --backend webgpu "$@"
