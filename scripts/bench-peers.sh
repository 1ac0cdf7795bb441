#!/usr/bin/env bash
# The peer benchmark (bench/peers/README.md): Strata against TensorFlow (tf.function),
# tf-keras (fit) and ONNX Runtime (its C API), interleaved round by round, printing
# ratio = peer time ÷ Strata time as ranges over the rounds, with the versions used.
# Never part of .ci/run: it needs PyPI once (the venv) and minutes of a quiet machine.
#
#   scripts/bench-peers.sh [--quick] [--build DIR] [--models DIR] [--rounds N] [--no-apps] [--json OUT]
#
#   --quick        3 rounds, fewer repetitions, applications at batch 1 only (a few minutes)
#   (default)      7 rounds, the issue's full table (ResNet50/MobileNetV2 at batch 1 and 32)
#   --build DIR    Strata build directory (default: build); the runners and plugins are built there
#   --models DIR   where the generated models go (default: ~/.cache/strata/bench-models; kept
#                  between runs: delete it after changing bench/peers/make_models.py)
#
# The venv (~/.cache/strata/bench-venv, or STRATA_BENCH_VENV) is created on first use with
# the pinned versions below; a venv holding other versions is refused (delete it to rebuild).
set -euo pipefail
cd "$(dirname "$0")/.."

TF_VERSION=2.21.0
TF_KERAS_VERSION=2.21.0
ORT_VERSION=1.32.0
ONNX_VERSION=1.23.2
TF2ONNX_VERSION=1.17.0

build=build
models="${HOME}/.cache/strata/bench-models"
venv="${STRATA_BENCH_VENV:-${HOME}/.cache/strata/bench-venv}"
peer_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick | --no-apps) peer_args+=("$1") ;;
    --rounds | --json) peer_args+=("$1" "$2"); shift ;;
    --build) build="$2"; shift ;;
    --models) models="$2"; shift ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "bench-peers.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

# 1. The pinned benchmark venv.
py="$venv/bin/python"
if [ ! -x "$py" ]; then
  echo "== creating $venv (tensorflow-cpu $TF_VERSION, tf-keras $TF_KERAS_VERSION, onnxruntime $ORT_VERSION, onnx $ONNX_VERSION)"
  python3 -m venv "$venv"
  "$py" -m pip install -q --upgrade pip
  "$py" -m pip install -q "tensorflow-cpu==$TF_VERSION" "tf-keras==$TF_KERAS_VERSION" \
    "onnxruntime==$ORT_VERSION" "onnx==$ONNX_VERSION" h5py
  # tf2onnx pins an old protobuf it does not need for conversion; without its dependencies
  # it converts with this TensorFlow (make_models.py checks every converted model).
  "$py" -m pip install -q --no-deps "tf2onnx==$TF2ONNX_VERSION" || echo "tf2onnx did not install: applications vs TF only"
fi
"$py" - "$TF_VERSION" "$TF_KERAS_VERSION" "$ORT_VERSION" "$ONNX_VERSION" <<'EOF'
import sys
from importlib.metadata import version
want = dict(zip(["tensorflow-cpu", "tf-keras", "onnxruntime", "onnx"], sys.argv[1:]))
bad = {k: (version(k), v) for k, v in want.items() if version(k) != v}
if bad:
    sys.exit(f"the bench venv holds other versions than the pinned ones: {bad}; delete it to rebuild")
EOF
ort_lib="$("$py" -c 'import glob, os, onnxruntime; print(sorted(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "capi", "libonnxruntime.so*")))[0])')"

# 2. Strata: the CLI, the plugins and the two runners.
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
plugins=(layers training backend-onednn format-h5 format-keras format-json format-savedmodel format-checkpoint)
# backend-cuda too where the build has it: start-up and memory are measured with every plugin
# present, as installed (and against a copy of the plugin directory without it).
if grep -q 'strata_plugin_backend-cuda' "$build/build.ninja" "$build/Makefile" 2>/dev/null; then
  plugins+=(backend-cuda)
fi
cmake --build "$build" -j2 --target strata_cli strata_bench_peers_strata strata_bench_peers_ort \
  "${plugins[@]/#/strata_plugin_}" >/dev/null

# 3. The models, seeded (kept between runs).
if [ ! -f "$models/manifest.json" ]; then
  echo "== writing the models to $models"
  TF_CPP_MIN_LOG_LEVEL=3 "$py" bench/peers/make_models.py "$models" --apps --big 2>&1 |
    grep -v -E '^(I0000|WARNING|W0000)|UserWarning|saving_api.save_model' || true
  [ -f "$models/manifest.json" ] || { echo "bench-peers.sh: make_models.py failed" >&2; exit 1; }
fi

# 4. The rounds.
echo "== running (load average now: $(cut -d' ' -f1-3 /proc/loadavg); a busy machine makes the ranges wide)"
TF_CPP_MIN_LOG_LEVEL=3 "$py" bench/peers/peers.py --models "$models" --build "$build" --ort-lib "$ort_lib" \
  ${peer_args[@]+"${peer_args[@]}"}
