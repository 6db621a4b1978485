r"""Classifies image files with a model and prints the top classes.

Usage:
  python classify_image.py --checkpoint_path=/tmp/train \
      --model_name=cifarnet --dataset_dir=/tmp/shapes image1.png image2.jpg
  # A folder stands for the image files in it:
  python classify_image.py --checkpoint_path=/tmp/train \
      --model_name=cifarnet --dataset_dir=/tmp/shapes /tmp/photos
  # Or a model written by export_inference_graph.py:
  python classify_image.py --saved_model_dir=/tmp/serving/cifarnet/1 a.png
  python classify_image.py --frozen_graph=/tmp/frozen.pb \
      --model_name=cifarnet --dataset_dir=/tmp/shapes a.png
  # A TFLite model (float or integer; --model_name picks the preprocessing):
  python classify_image.py --tflite_file=/tmp/m.tflite \
      --model_name=mobilenet_v1_025 a.png

The class names come from --labels_file or DATASET_DIR/labels.txt (a
SavedModel also carries its own, a TFLite model the labels file written
beside it). With a checkpoint, the number of classes
comes from --num_classes or the labels; an exported model knows it, and a
frozen graph or TFLite model also its input size and channels. Files that are not
readable images are named after the others are printed, and the command
then exits with status 2.
"""

from slimvision.cli import app
from slimvision.engines.config import ClassifyConfig

# Imported when the command runs, after its first line (cli/app.py).
ENGINE = 'slimvision.engines.inference:print_classes'

# research/slim's scripts define their flags in tf.app.flags.FLAGS on import.
FLAGS = app.define_global_flags(ClassifyConfig)


def run(argv=None):
  """Classifies from the command line `argv`; returns the exit status."""
  return app.run(ClassifyConfig, ENGINE, __doc__, argv, positional='images')


def main(*argv):
  """Console entry point; main(argv), as tf.app.run calls research/slim's,
  runs with absl's global FLAGS instead (see app.run_with_global_flags)."""
  return app.main_entry(ClassifyConfig, ENGINE, __doc__, *argv,
                        positional='images')


if __name__ == '__main__':
  main()
