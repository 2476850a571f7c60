#!/usr/bin/env bash
# Checks that models pushed by this project (TensorFlow 2.21) answer the same under the
# TensorFlow of the TF Serving release the deploy files name (tensorflow/serving:2.19.1:
# TensorFlow 2.19). Not in CI (it downloads TensorFlow 2.19, about 650 MB, once):
#
#   make test-tf-serving-compat                                  # the bundled sample, three embeddings
#   make test-tf-serving-compat EMBEDDINGS=use-multilingual-v3
#
# For each embedding: run the pipeline on the bundled sample into a temporary folder,
# record every signature's outputs under 2.21 (the project's environment), then load the
# pushed model in a venv with tensorflow 2.19.1 + tensorflow-text 2.19.0 on Python 3.11
# (TF 2.19 has no Python 3.13 wheels) and compare to 1e-5 (serving/deploy/tf_serving_compat.py).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
VENV="${TF_SERVING_VENV:-$(scripts/env.sh cache)/tf2.19-venv}"
PY311="${TF_SERVING_PYTHON:-$(command -v python3.11 || true)}"
EMBEDDINGS="${EMBEDDINGS:-nb-word-ngram-bag minilm-bigram-bag use-multilingual-v3}"
if [ ! -x "$VENV/bin/python" ]; then
  [ -n "$PY311" ] || { echo "[compat] needs python3.11 (or TF_SERVING_PYTHON=/path/to/python3.9-3.12)" >&2; exit 2; }
  echo "[compat] building $VENV (tensorflow 2.19.1, tensorflow-text 2.19.0; once)"
  "$PY311" -m venv "$VENV.tmp"
  "$VENV.tmp/bin/pip" install -q tensorflow==2.19.1 tensorflow-text==2.19.0
  mv "$VENV.tmp" "$VENV"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0
for embedding in $EMBEDDINGS; do
  scripts/env.sh run python -m pipeline.cli run --embedding "$embedding" --output-dir "$work/$embedding" \
      --min-accuracy 0 --min-auc 0 > "$work/$embedding.log" 2>&1 || { tail -20 "$work/$embedding.log"; exit 1; }
  model="$(ls -d "$work/$embedding"/serving/*/* | tail -1)"
  echo "[compat] $embedding: $model"
  scripts/env.sh run python -m serving.deploy.tf_serving_compat record "$model" "$work/$embedding.npz" 2>&1 | grep '^\[compat\]'
  PYTHONPATH="$REPO" TF_CPP_MIN_LOG_LEVEL=3 "$VENV/bin/python" -m serving.deploy.tf_serving_compat compare \
      "$model" "$work/$embedding.npz" 2>&1 | grep -A20 '^\[compat\]' || status=1
done
exit $status
