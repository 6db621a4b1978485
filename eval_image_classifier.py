r"""Evaluates a checkpoint on a split: Accuracy, Recall_5, per-class scores.

Usage:
  python eval_image_classifier.py --checkpoint_path=/tmp/train \
      --eval_dir=/tmp/eval --dataset_name=shapes \
      --dataset_split_name=validation --dataset_dir=/tmp/shapes \
      --model_name=cifarnet

  # A TFLite model (float or integer) instead of a checkpoint, with the
  # same input and metrics:
  python eval_image_classifier.py --tflite_file=/tmp/m.tflite \
      --eval_dir=/tmp/eval_tflite --dataset_name=shapes \
      --dataset_split_name=validation --dataset_dir=/tmp/shapes \
      --model_name=cifarnet

  # A checkpoint trained with --quantize_delay, in its quantized graph:
  python eval_image_classifier.py --quantize --checkpoint_path=/tmp/qat ...

With --eval_interval_secs > 0 and --checkpoint_path a training folder, it
evaluates each new checkpoint as it appears until --eval_timeout_secs pass
without one.
"""

from slimvision.cli import app
from slimvision.engines.config import EvalConfig

# Imported when the command runs, after its first line (cli/app.py).
ENGINE = 'slimvision.engines.evaluation:run'

# research/slim's scripts define their flags in tf.app.flags.FLAGS on import.
FLAGS = app.define_global_flags(EvalConfig)


def run(argv=None):
  """Evaluates from the command line `argv`; returns the exit status."""
  return app.run(EvalConfig, ENGINE, __doc__, argv)


def main(*argv):
  """Console entry point; main(argv), as tf.app.run calls research/slim's,
  runs with absl's global FLAGS instead (see app.run_with_global_flags)."""
  return app.main_entry(EvalConfig, ENGINE, __doc__, *argv)


if __name__ == '__main__':
  main()
