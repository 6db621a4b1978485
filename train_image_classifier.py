r"""Trains an image classifier from a converted dataset, TF-Slim style.

Usage:
  python train_image_classifier.py --train_dir=/tmp/train \
      --dataset_name=shapes --dataset_split_name=train \
      --dataset_dir=/tmp/shapes --model_name=cifarnet

Checkpoints and TensorBoard summaries go to --train_dir; a run restarted on
the same --train_dir resumes from its latest checkpoint. The resolved
settings of each run are written to TRAIN_DIR/train_config.json.
"""

from slimvision.cli import app
from slimvision.engines.config import TrainConfig

# Imported when the command runs, after its first line (cli/app.py).
ENGINE = 'slimvision.engines.training:run'

# research/slim's scripts define their flags in tf.app.flags.FLAGS on import.
FLAGS = app.define_global_flags(TrainConfig)


def run(argv=None):
  """Trains from the command line `argv`; returns the exit status."""
  return app.run(TrainConfig, ENGINE, __doc__, argv)


def main(*argv):
  """Console entry point; main(argv), as tf.app.run calls research/slim's,
  runs with absl's global FLAGS instead (see app.run_with_global_flags)."""
  return app.main_entry(TrainConfig, ENGINE, __doc__, *argv)


if __name__ == '__main__':
  main()
