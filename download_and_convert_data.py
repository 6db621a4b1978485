r"""Converts a dataset into sharded TFRecord files, labels.txt and a spec.

Usage:
  # The embedded demo dataset, drawn locally:
  python download_and_convert_data.py --dataset_name=shapes \
      --dataset_dir=/tmp/shapes

  # Public datasets: downloaded (cifar10, flowers, mnist) or converted from a
  # local copy with --source_dir (required for imagenet, visualwakewords):
  python download_and_convert_data.py --dataset_name=mnist \
      --dataset_dir=/tmp/mnist --source_dir=/data/mnist
  python download_and_convert_data.py --dataset_name=imagenet \
      --dataset_dir=/tmp/imagenet --source_dir=/data/ILSVRC2012

  # Any folder of class sub-folders (SOURCE/<class>/*.jpg, or
  # SOURCE/train/<class>/ and SOURCE/validation/<class>/):
  python download_and_convert_data.py --dataset_name=satellite \
      --dataset_dir=/tmp/satellite --source_dir=/data/satellite

  # Check a conversion: read every record, list the bad ones (exit 2 if any):
  python download_and_convert_data.py --verify --dataset_name=satellite \
      --dataset_dir=/tmp/satellite
"""

from slimvision.cli import app
from slimvision.engines.config import ConvertConfig

# Imported when the command runs, after its first line (cli/app.py).
ENGINE = 'slimvision.engines.conversion:run'

# research/slim's scripts define their flags in tf.app.flags.FLAGS on import.
FLAGS = app.define_global_flags(ConvertConfig)


def run(argv=None):
  """Converts from the command line `argv`; returns the exit status."""
  return app.run(ConvertConfig, ENGINE, __doc__, argv)


def main(*argv):
  """Console entry point; main(argv), as tf.app.run calls research/slim's,
  runs with absl's global FLAGS instead (see app.run_with_global_flags)."""
  return app.main_entry(ConvertConfig, ENGINE, __doc__, *argv)


if __name__ == '__main__':
  main()
