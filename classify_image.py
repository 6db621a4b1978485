r"""Classifies image files with a model and prints the top classes.

Usage:
  python classify_image.py --checkpoint_path=/tmp/train \
      --model_name=cifarnet --dataset_dir=/tmp/shapes image1.png image2.jpg
  # Or a model written by export_inference_graph.py:
  python classify_image.py --saved_model_dir=/tmp/serving/cifarnet/1 a.png
  python classify_image.py --frozen_graph=/tmp/frozen.pb \
      --model_name=cifarnet --dataset_dir=/tmp/shapes a.png

The class names come from --labels_file or DATASET_DIR/labels.txt (a
SavedModel also carries its own). With a checkpoint, the number of classes
comes from --num_classes or the labels; an exported model knows it, and a
frozen graph also its input size and channels.
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
flags.DEFINE_string('saved_model_dir', None,
                    'A SavedModel folder written by '
                    'export_inference_graph.py (instead of a checkpoint).')
flags.DEFINE_string('frozen_graph', None,
                    'A frozen graph written by export_inference_graph.py '
                    '(instead of a checkpoint; give its --model_name for the '
                    'preprocessing).')
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


def _model_source():
  given = [f for f in ('checkpoint_path', 'saved_model_dir', 'frozen_graph')
           if getattr(FLAGS, f)]
  if len(given) != 1:
    raise UserError('give exactly one of --checkpoint_path, '
                    '--saved_model_dir, --frozen_graph%s' % (
                        ' (got --%s)' % ', --'.join(given) if given else ''))
  return given[0]


def _checkpoint_probabilities(encoded, labels):
  """Probabilities from the checkpoint model; returns (tensor, restore)."""
  num_classes = FLAGS.num_classes or (
      labels and max(labels) + 1 - FLAGS.labels_offset)
  if not num_classes:
    raise UserError('the number of classes is unknown: give --num_classes, '
                    '--labels_file or --dataset_dir with a labels.txt')
  checkpoint = checkpoints.resolve(FLAGS.checkpoint_path)
  images = inference.preprocess_encoded(
      encoded, FLAGS.model_name, FLAGS.image_size, FLAGS.preprocessing_name,
      FLAGS.use_grayscale)
  _, probabilities = inference.build_classifier(images, FLAGS.model_name,
                                                num_classes)
  saver = checkpoints.restorer(
      checkpoint, checkpoints.variables_to_restore(FLAGS.moving_average_decay))
  return probabilities, lambda session: saver.restore(session, checkpoint)


def classify(paths):
  """Returns [(path, [(name, probability), ...])] for the image files."""
  source = _model_source()
  labels = inference.load_labels(FLAGS.labels_file, FLAGS.dataset_dir)
  contents = inference.read_image_files(paths)
  model_names = None
  with tf.Graph().as_default(), tf.Session() as session:
    if source == 'saved_model_dir':
      encoded, probabilities, model_names = inference.load_saved_model(
          session, FLAGS.saved_model_dir)
    else:
      encoded = tf.placeholder(tf.string, [None])
      if source == 'frozen_graph':
        probabilities = inference.frozen_graph_classifier(
            FLAGS.frozen_graph, encoded, FLAGS.model_name,
            FLAGS.preprocessing_name)
      else:
        probabilities, restore = _checkpoint_probabilities(encoded, labels)
        restore(session)
    values = session.run(probabilities, {encoded: contents})
  num_classes = values.shape[1]
  if labels or not model_names:
    names = inference.output_names(labels, num_classes, FLAGS.labels_offset)
  else:
    names = model_names
  results = []
  for path, row in zip(paths, values):
    top = np.argsort(-row, kind='stable')[:FLAGS.top_k]
    results.append((path, [(names[i], float(row[i])) for i in top]))
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
