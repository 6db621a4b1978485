r"""Do eval, the frozen graph, the SavedModel and classify agree per image?

For every image of a split, predicts the class four ways and counts the
agreements:
  * eval: the eval graph's computation (the dataset's decoder, the model's
    eval preprocessing, the network, the checkpoint), per record. The
    eval_image_classifier.py command is also run, and its printed confusion
    matrix must equal the one of these predictions;
  * frozen: the graph from export_inference_graph.py --frozen_graph_file,
    fed the record's encoded image through engines/inference.py's
    preprocessing (frozen_graph_classifier);
  * saved_model: the `serving_default` signature of the exported SavedModel
    fed the encoded image bytes;
  * classify: classify_image.py --checkpoint_path on the image files.

Usage:
  python benchmarks/export_agreement.py --checkpoint_path=/tmp/train \
      --dataset_name=shapes --dataset_dir=/tmp/shapes --model_name=cifarnet

Prints the counts; exits 1 if any prediction differs.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
import tensorflow.compat.v1 as tf
from tensorflow.python.util import deprecation

from slimvision.engines import checkpoints
from slimvision.engines import inference
from slimvision.engines import pipeline
from slimvision.datasets import dataset_factory
from slimvision.nets import nets_factory
from slimvision.preprocessing import preprocessing_factory


def _parse_args():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--checkpoint_path', required=True)
  parser.add_argument('--dataset_dir', required=True)
  parser.add_argument('--dataset_name', default='shapes')
  parser.add_argument('--split', default='validation')
  parser.add_argument('--model_name', default='cifarnet')
  parser.add_argument('--image_size', type=int, default=None)
  parser.add_argument('--use_grayscale', action='store_true')
  parser.add_argument('--moving_average_decay', type=float, default=None)
  parser.add_argument('--batch_size', type=int, default=100)
  parser.add_argument('--work_dir', default=None,
                      help='Where the exports and image files go '
                      '(default: a new temporary folder).')
  return parser.parse_args()


def _script(name, *args):
  result = subprocess.run([sys.executable, os.path.join(ROOT, name)] +
                          list(args), capture_output=True, text=True,
                          cwd=ROOT)
  if result.returncode != 0:
    sys.exit('%s failed:\n%s' % (name, result.stderr[-3000:]))
  return result


def _records(dataset):
  """[(serialized Example, encoded image bytes, image format)] in order."""
  records = []
  for path in pipeline.list_files(dataset):
    with deprecation.silence():  # The graph-mode way to list records.
      serialized_records = list(tf.io.tf_record_iterator(path))
    for serialized in serialized_records:
      example = tf.train.Example.FromString(serialized)
      feature = example.features.feature
      records.append((serialized,
                      feature['image/encoded'].bytes_list.value[0],
                      feature['image/format'].bytes_list.value[0].decode()))
  return records


def _batches(items, size):
  for start in range(0, len(items), size):
    yield items[start:start + size]


def _eval_predictions(args, dataset, records, num_classes):
  """(labels, predictions): the eval graph's computation on each record."""
  network_fn = nets_factory.get_network_fn(args.model_name, num_classes)
  preprocess = preprocessing_factory.get_preprocessing(
      args.model_name, is_training=False, use_grayscale=args.use_grayscale)
  size = args.image_size or network_fn.default_image_size
  decode = pipeline.decode_fn(dataset)
  with tf.Graph().as_default(), tf.Session() as session:
    serialized = tf.placeholder(tf.string, [None])
    examples = tf.data.Dataset.from_tensor_slices(serialized).map(
        lambda s: (lambda image, label: (preprocess(image, size, size),
                                         label))(*decode(s)))
    iterator = tf.data.make_initializable_iterator(
        examples.batch(args.batch_size))
    images, labels = iterator.get_next()
    tf.train.get_or_create_global_step()
    logits, _ = network_fn(images)
    checkpoint = checkpoints.resolve(args.checkpoint_path)
    checkpoints.restorer(checkpoint, checkpoints.variables_to_restore(
        args.moving_average_decay)).restore(session, checkpoint)
    session.run(iterator.initializer,
                {serialized: [r[0] for r in records]})
    all_labels, all_predictions = [], []
    while True:
      try:
        batch_logits, batch_labels = session.run([logits, labels])
      except tf.errors.OutOfRangeError:
        break
      all_labels.extend(batch_labels)
      all_predictions.extend(np.argmax(batch_logits, axis=1))
  return np.array(all_labels), np.array(all_predictions)


def _eval_script_confusion(args, num_classes, work_dir):
  """The confusion matrix eval_image_classifier.py prints."""
  flags = ['--dataset_name=' + args.dataset_name,
           '--dataset_split_name=' + args.split,
           '--dataset_dir=' + args.dataset_dir,
           '--model_name=' + args.model_name,
           '--checkpoint_path=' + args.checkpoint_path,
           '--eval_dir=' + os.path.join(work_dir, 'eval'),
           '--batch_size=%d' % args.batch_size]
  flags += _shared_model_flags(args, image_size_flag='--eval_image_size')
  stdout = _script('eval_image_classifier.py', *flags).stdout
  lines = stdout.split('Confusion matrix')[1].splitlines()[2:2 + num_classes]
  return np.array([[int(v) for v in line.split()[1:]] for line in lines])


def _shared_model_flags(args, image_size_flag='--image_size'):
  flags = []
  if args.image_size:
    flags.append('%s=%d' % (image_size_flag, args.image_size))
  if args.use_grayscale:
    flags.append('--use_grayscale')
  if args.moving_average_decay:
    flags.append('--moving_average_decay=%s' % args.moving_average_decay)
  return flags


def _exported_predictions(records, batch_size, build):
  """Predictions of an exported model; build(session) -> (feed, probs)."""
  predictions = []
  with tf.Graph().as_default(), tf.Session() as session:
    encoded, probabilities = build(session)
    for batch in _batches([r[1] for r in records], batch_size):
      predictions.extend(np.argmax(
          session.run(probabilities, {encoded: batch}), axis=1))
  return np.array(predictions)


def _frozen_builder(args, path):
  def build(_):
    encoded = tf.placeholder(tf.string, [None])
    return encoded, inference.frozen_graph_classifier(path, encoded,
                                                      args.model_name)
  return build


def _saved_model_builder(path):
  def build(session):
    encoded, probabilities, _ = inference.load_saved_model(session, path)
    return encoded, probabilities
  return build


def _classify_predictions(args, records, labels_to_names, work_dir):
  image_dir = os.path.join(work_dir, 'images')
  os.makedirs(image_dir, exist_ok=True)
  paths = []
  for i, (_, encoded, image_format) in enumerate(records):
    path = os.path.join(image_dir, '%05d.%s' % (
        i, 'jpg' if image_format in ('jpeg', 'jpg') else image_format))
    with open(path, 'wb') as f:
      f.write(encoded)
    paths.append(path)
  stdout = _script('classify_image.py', '--model_name=' + args.model_name,
                   '--checkpoint_path=' + args.checkpoint_path,
                   '--dataset_dir=' + args.dataset_dir, '--top_k=1',
                   *(_shared_model_flags(args) + paths)).stdout
  names_to_labels = {name: label for label, name in labels_to_names.items()}
  lines = stdout.splitlines()
  predicted = {lines[i]: names_to_labels[lines[i + 1].split()[0]]
               for i in range(0, len(lines), 2)}
  return np.array([predicted[p] for p in paths])


def main():
  args = _parse_args()
  tf.disable_eager_execution()
  work_dir = args.work_dir or tempfile.mkdtemp(prefix='export_agreement_')
  dataset = dataset_factory.get_dataset(args.dataset_name, args.split,
                                        args.dataset_dir)
  num_classes = dataset.num_classes
  records = _records(dataset)
  print('%d %s images of %s, %d classes; work folder %s' % (
      len(records), args.split, args.dataset_dir, num_classes, work_dir))

  started = time.time()
  labels, predictions = _eval_predictions(args, dataset, records,
                                          num_classes)
  results = {'eval': predictions}
  confusion = np.zeros((num_classes, num_classes), np.int64)
  np.add.at(confusion, (labels, predictions), 1)
  script_confusion = _eval_script_confusion(args, num_classes, work_dir)
  same_confusion = np.array_equal(confusion, script_confusion)

  frozen = os.path.join(work_dir, 'frozen.pb')
  saved_model = os.path.join(work_dir, 'saved_model')
  _script('export_inference_graph.py', '--model_name=' + args.model_name,
          '--dataset_name=' + args.dataset_name,
          '--dataset_dir=' + args.dataset_dir,
          '--checkpoint_path=' + args.checkpoint_path,
          '--frozen_graph_file=' + frozen, '--saved_model_dir=' + saved_model,
          *_shared_model_flags(args))
  results['frozen'] = _exported_predictions(
      records, args.batch_size, _frozen_builder(args, frozen))
  results['saved_model'] = _exported_predictions(
      records, args.batch_size, _saved_model_builder(saved_model))
  results['classify'] = _classify_predictions(
      args, records, dataset.labels_to_names, work_dir)

  print('eval_image_classifier.py confusion matrix equals the per-record '
        'eval predictions: %s (script accuracy %.4f)' % (
            'yes' if same_confusion else 'NO',
            np.trace(script_confusion) / float(script_confusion.sum())))
  for name, values in results.items():
    print('  %-12s accuracy %.4f (%d/%d correct); agrees with eval on %d/%d'
          % (name, np.mean(values == labels), np.sum(values == labels),
             len(labels), np.sum(values == predictions), len(labels)))
  all_agree = np.all([values == predictions for values in results.values()],
                     axis=0)
  print('All four agree on %d/%d images (%.0f s)' % (
      np.sum(all_agree), len(labels), time.time() - started))
  return 0 if all_agree.all() and same_confusion else 1


if __name__ == '__main__':
  sys.exit(main())
