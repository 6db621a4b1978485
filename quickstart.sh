#!/usr/bin/env bash
# Quick start: set up a virtualenv, draw the `shapes` demo dataset, train
# cifarnet on it, evaluate, and classify one image. Everything it writes goes
# under ./quickstart/ (override with QUICKSTART_DIR).
set -euo pipefail
cd "$(dirname "$0")"
OUT=${QUICKSTART_DIR:-$PWD/quickstart}
PY=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e .
export PATH="$PWD/.venv/bin:$PATH"

slim-download-and-convert-data --dataset_name=shapes \
    --dataset_dir="$OUT/shapes"
slim-train-image-classifier --dataset_name=shapes \
    --dataset_dir="$OUT/shapes" --model_name=cifarnet \
    --train_dir="$OUT/train" --max_number_of_steps=1500 --batch_size=64 \
    --optimizer=momentum --learning_rate=0.02 --weight_decay=0.004 \
    --num_epochs_per_decay=10 --learning_rate_decay_factor=0.5 \
    --log_every_n_steps=100 --save_summaries_steps=100 --save_interval_secs=60 \
    --seed=0
slim-eval-image-classifier --dataset_name=shapes \
    --dataset_split_name=validation --dataset_dir="$OUT/shapes" \
    --model_name=cifarnet --checkpoint_path="$OUT/train" \
    --eval_dir="$OUT/eval" | tee "$OUT/eval.txt"
STAR="$OUT/shapes/images/validation/star/00000.png"
slim-classify-image --model_name=cifarnet --checkpoint_path="$OUT/train" \
    --dataset_dir="$OUT/shapes" --top_k=5 "$STAR"

# Deploy: export a SavedModel and a TFLite model, serve the SavedModel over
# HTTP on a free port, and ask the server about the star image.
slim-export-inference-graph --model_name=cifarnet --dataset_name=shapes \
    --dataset_dir="$OUT/shapes" --checkpoint_path="$OUT/train" \
    --saved_model_dir="$OUT/export/saved_model" \
    --tflite_file="$OUT/export/model.tflite"
slim-serve-image-classifier --saved_model_dir="$OUT/export/saved_model" \
    --port=0 > "$OUT/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 240); do
  grep -q '^Serving ' "$OUT/serve.log" && break
  kill -0 $SERVER 2>/dev/null || { cat "$OUT/serve.log"; exit 1; }
  sleep 0.5
done
URL=$(grep -o 'http://[0-9.]*:[0-9]*' "$OUT/serve.log" | head -1)
SERVED=$(.venv/bin/python -c '
import json, sys, urllib.request
image = open(sys.argv[2], "rb").read()
best = json.load(urllib.request.urlopen(sys.argv[1], image))["top_k"][0]
print("%s (%.3f)" % (best["class"], best["probability"]))' "$URL/classify" "$STAR")
kill $SERVER

echo
echo "shapes validation $(grep '^Accuracy' "$OUT/eval.txt")"
echo "served over HTTP: POST $URL/classify with the star image -> $SERVED"
echo "TensorBoard logs: $OUT/train (training) and $OUT/eval (evaluation);"
echo "view them with: .venv/bin/tensorboard --logdir $OUT"
