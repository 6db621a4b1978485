r"""Classifies image files with a checkpoint and prints the top classes.

Usage:
  python classify_image.py --checkpoint_path=/tmp/train \
      --model_name=cifarnet --dataset_dir=/tmp/shapes image1.png image2.jpg

The class names come from --labels_file or DATASET_DIR/labels.txt; the
number of classes from --num_classes or the labels.
"""

if __name__ == '__main__' and not __package__:
  import _checkout  # noqa: F401  (run from a source checkout)

from absl import flags
import numpy as np
import tensorflow.compat.v1 as tf

from slimvision.core import checkpoints
from slimvision.core import inference
from slimvision.core.errors import UserError, run_main

FLAGS = flags.FLAGS

flags.DEFINE_string('checkpoint_path', None,
                    'A checkpoint file or a training folder.')
flags.DEFINE_string('model_name', 'inception_v3',
                    'The name of the architecture of the checkpoint.')
flags.DEFINE_string('preprocessing_name', None,
                    'The preprocessing to use (default: the model\'s).')
flags.DEFINE_integer('image_size', None,
                     'Input size in pixels (default: the network\'s).')
flags.DEFINE_bool('use_grayscale', False,
                  'Whether the model takes grayscale input.')
flags.DEFINE_float('moving_average_decay', None,
                   'Restore the moving averages of the weights.')
flags.DEFINE_string('dataset_dir', None, 'Folder whose labels.txt names the '
                    'classes.')
flags.DEFINE_string('labels_file', None, 'A labels file (index:name lines).')
flags.DEFINE_integer('labels_offset', 0,
                     'Offset between the model outputs and labels.txt '
                     'indices (1 for ImageNet models without background).')
flags.DEFINE_integer('num_classes', None,
                     'Number of model outputs (default: from the labels).')
flags.DEFINE_integer('top_k', 5, 'How many classes to print per image.')


def classify(paths):
  """Returns [(path, [(name, probability), ...])] for the image files."""
  labels = inference.load_labels(FLAGS.labels_file, FLAGS.dataset_dir)
  num_classes = FLAGS.num_classes or (
      labels and max(labels) + 1 - FLAGS.labels_offset)
  if not num_classes:
    raise UserError('the number of classes is unknown: give --num_classes, '
                    '--labels_file or --dataset_dir with a labels.txt')
  contents = inference.read_image_files(paths)
  checkpoint = checkpoints.resolve(FLAGS.checkpoint_path)
  with tf.Graph().as_default():
    encoded = tf.placeholder(tf.string, [None])
    images = inference.preprocess_encoded(
        encoded, FLAGS.model_name, FLAGS.image_size, FLAGS.preprocessing_name,
        FLAGS.use_grayscale)
    _, probabilities = inference.build_classifier(images, FLAGS.model_name,
                                                  num_classes)
    saver = checkpoints.restorer(
        checkpoint, checkpoints.variables_to_restore(
            FLAGS.moving_average_decay))
    with tf.Session() as session:
      saver.restore(session, checkpoint)
      values = session.run(probabilities, {encoded: contents})
  results = []
  for path, row in zip(paths, values):
    top = np.argsort(-row)[:FLAGS.top_k]
    results.append((path, [
        ((labels or {}).get(int(i) + FLAGS.labels_offset, str(int(i))),
         float(row[i])) for i in top]))
  return results


def main(argv):
  paths = argv[1:]
  if not paths:
    raise UserError('give one or more image files to classify')
  tf.disable_eager_execution()
  for path, top in classify(paths):
    print(path)
    for name, probability in top:
      print('  %-20s %.4f' % (name, probability))


def run():
  """Console entry point."""
  run_main(main)


if __name__ == '__main__':
  run()
