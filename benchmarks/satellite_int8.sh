#!/usr/bin/env bash
# The integer-model recipe on the real satellite images, measured end to end:
# trains mobilenet_v1_025 at 128 px in float, exports it as a full-int8
# TFLite model calibrated on training images (post-training quantization,
# research/slim's nets/post_training_quantization.py route), fine-tunes it
# from that checkpoint with quantization-aware training (--quantize_delay)
# and exports that as a full-int8 model from its own ranges; then scores
# all three on the 1,200 validation images (the float checkpoint with
# eval_image_classifier.py, the two .tflite models with its --tflite_file)
# and prints the three figures (README: Integer models).
#
# The float recipe is the one of satellite_from_scratch.sh (rmsprop at 0.04,
# 2 warm-up epochs, cosine decay, crops of at least 0.8, 90-degree
# rotations, batch-norm decay 0.99, moving averages 0.999), for this
# network. The fine-tuning starts from the float weights (not their moving
# averages), at a low learning rate, quantized from its first step, with no
# moving averages of its own (they would start from the initial values).
# Needs the project installed in .venv (bash quickstart.sh does that) and
# the images, by default in ../shared/data/satellite. Override any setting
# through the environment:
#   SOURCE, OUT, MODEL, IMAGE_SIZE, STEPS, QAT_STEPS, QAT_LEARNING_RATE,
#   QUANTIZE_DELAY, CALIBRATION_STEPS, IO_TYPE (int8 or uint8), PY, and
#   BATCH_SIZE (tiny runs of the recipe).
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCE=${SOURCE:-$PWD/../shared/data/satellite}
OUT=${OUT:-/tmp/satellite_int8}
MODEL=${MODEL:-mobilenet_v1_025}
IMAGE_SIZE=${IMAGE_SIZE:-128}
STEPS=${STEPS:-10000}
QAT_STEPS=${QAT_STEPS:-2000}
QAT_LEARNING_RATE=${QAT_LEARNING_RATE:-0.002}
QUANTIZE_DELAY=${QUANTIZE_DELAY:-0}
CALIBRATION_STEPS=${CALIBRATION_STEPS:-1000}
IO_TYPE=${IO_TYPE:-int8}
BATCH_SIZE=${BATCH_SIZE:-32}
PY=${PY:-.venv/bin/python}
DATA="$OUT/data"
MODEL_FLAGS=(--model_name="$MODEL" --preprocessing_name=inception)
EVAL_FLAGS=(--dataset_name=satellite --dataset_split_name=validation
            --dataset_dir="$DATA" "${MODEL_FLAGS[@]}"
            --central_crop_fraction=1)

if [ ! -f "$DATA/dataset_spec.json" ]; then
  $PY download_and_convert_data.py --dataset_name=satellite \
      --dataset_dir="$DATA" --source_dir="$SOURCE"
fi
rm -rf "$OUT/float" "$OUT/qat" "$OUT/eval_"* "$OUT"/*.tflite "$OUT"/*.txt \
    "$OUT"/*.json

# 1. Float training and its checkpoint's score.
$PY train_image_classifier.py --dataset_name=satellite --dataset_dir="$DATA" \
    "${MODEL_FLAGS[@]}" --train_image_size="$IMAGE_SIZE" \
    --train_dir="$OUT/float" --batch_size="$BATCH_SIZE" \
    --max_number_of_steps="$STEPS" --optimizer=rmsprop --learning_rate=0.04 \
    --warmup_epochs=2 --learning_rate_decay_type=cosine --weight_decay=0 \
    --batch_norm_decay=0.99 --moving_average_decay=0.999 \
    --min_crop_area=0.8 --nocolor_distortion --random_rotate_90 \
    --image_cache_mb=2000 --log_every_n_steps=250 --save_interval_secs=300
$PY eval_image_classifier.py "${EVAL_FLAGS[@]}" \
    --eval_image_size="$IMAGE_SIZE" --moving_average_decay=0.999 \
    --checkpoint_path="$OUT/float" --eval_dir="$OUT/eval_float" \
    | tee "$OUT/float.txt"

# 2. Post-training quantization: full int8, calibrated on training images
#    through the eval preprocessing.
$PY export_inference_graph.py "${MODEL_FLAGS[@]}" --image_size="$IMAGE_SIZE" \
    --checkpoint_path="$OUT/float" --moving_average_decay=0.999 \
    --dataset_name=satellite --dataset_dir="$DATA" \
    --dataset_split_name=train --central_crop_fraction=1 \
    --calibration_steps="$CALIBRATION_STEPS" --tflite_io_type="$IO_TYPE" \
    --tflite_quantize=int8 --tflite_file="$OUT/ptq.tflite"
$PY eval_image_classifier.py "${EVAL_FLAGS[@]}" \
    --tflite_file="$OUT/ptq.tflite" --eval_dir="$OUT/eval_ptq" \
    | tee "$OUT/ptq.txt"

# 3. Quantization-aware fine-tuning from the float checkpoint, exported
#    full int8 from its own ranges.
$PY train_image_classifier.py --dataset_name=satellite --dataset_dir="$DATA" \
    "${MODEL_FLAGS[@]}" --train_image_size="$IMAGE_SIZE" \
    --train_dir="$OUT/qat" --checkpoint_path="$OUT/float" \
    --quantize_delay="$QUANTIZE_DELAY" --batch_size="$BATCH_SIZE" \
    --max_number_of_steps="$QAT_STEPS" --optimizer=rmsprop \
    --learning_rate="$QAT_LEARNING_RATE" --learning_rate_decay_type=cosine \
    --weight_decay=0 --batch_norm_decay=0.99 --min_crop_area=0.8 \
    --nocolor_distortion --random_rotate_90 --image_cache_mb=2000 \
    --log_every_n_steps=250 --save_interval_secs=300
$PY export_inference_graph.py "${MODEL_FLAGS[@]}" --image_size="$IMAGE_SIZE" \
    --checkpoint_path="$OUT/qat" --quantize --tflite_io_type="$IO_TYPE" \
    --dataset_name=satellite --dataset_dir="$DATA" \
    --tflite_file="$OUT/qat.tflite"
$PY eval_image_classifier.py "${EVAL_FLAGS[@]}" \
    --tflite_file="$OUT/qat.tflite" --eval_dir="$OUT/eval_qat" \
    | tee "$OUT/qat.txt"

echo
echo "$MODEL at $IMAGE_SIZE px on satellite/validation:"
printf '  float checkpoint (moving averages), %s steps: %s\n' "$STEPS" \
    "$(grep '^Accuracy' "$OUT/float.txt")"
printf '  full-int8 PTQ .tflite (%s calibration images):  %s\n' \
    "$CALIBRATION_STEPS" "$(grep '^Accuracy' "$OUT/ptq.txt")"
printf '  full-int8 QAT .tflite (%s fine-tuning steps):   %s\n' \
    "$QAT_STEPS" "$(grep '^Accuracy' "$OUT/qat.txt")"
