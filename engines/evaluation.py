"""The evaluation engine: `run(EvalConfig)` scores checkpoints on a split.

Every example of the split is counted exactly once: the eval graph reads the
split once in file order (keeping the last partial batch), and the scores
are accumulated from the model's outputs in NumPy: accuracy, recall@5,
per-class accuracy and the confusion matrix. The scores then go to stdout
and to TensorBoard under the eval_dir. In loop mode (eval_interval_secs > 0)
each new checkpoint of a training folder is evaluated as it appears.
"""

import collections
import io

import numpy as np
import tensorflow.compat.v1 as tf

from slimvision.core import log
from slimvision.core.errors import UserError
from slimvision.datasets import dataset_factory
from slimvision.engines import checkpoints
from slimvision.engines import pipeline
from slimvision.nets import nets_factory
from slimvision.preprocessing import preprocessing_factory


class Scores(object):
  """Accumulates predictions; all counts are exact integers."""

  def __init__(self, num_classes, k=5):
    self.num_classes = num_classes
    self.k = min(k, num_classes)
    self.count = 0
    self.correct = 0
    self.correct_top_k = 0
    self.confusion = np.zeros((num_classes, num_classes), np.int64)

  def update(self, logits, labels):
    """Adds a batch: logits [batch, num_classes], labels int [batch]."""
    labels = np.asarray(labels, np.int64)
    predictions = np.argmax(logits, axis=1)
    # Rank of the true class (0 = top): ties count in the label's favour,
    # as tf.nn.in_top_k does.
    true_logits = logits[np.arange(len(labels)), labels][:, None]
    rank = np.sum(logits > true_logits, axis=1)
    self.count += len(labels)
    self.correct += int(np.sum(predictions == labels))
    self.correct_top_k += int(np.sum(rank < self.k))
    np.add.at(self.confusion, (labels, predictions), 1)

  @property
  def accuracy(self):
    return self.correct / float(max(1, self.count))

  @property
  def recall_at_k(self):
    return self.correct_top_k / float(max(1, self.count))

  def per_class_accuracy(self):
    """Array [num_classes]: correct / examples of each class (NaN if none)."""
    totals = self.confusion.sum(axis=1)
    with np.errstate(invalid='ignore', divide='ignore'):
      return np.where(totals > 0, np.diag(self.confusion) / totals, np.nan)

  def report(self, labels_to_names=None):
    """A printable table: metrics, per-class accuracy, confusion matrix."""
    names = [str((labels_to_names or {}).get(i, i))
             for i in range(self.num_classes)]
    width = max(6, max(len(n) for n in names))
    lines = ['Scored %d examples' % self.count,
             'Accuracy: %.4f' % self.accuracy,
             'Recall_%d: %.4f' % (self.k, self.recall_at_k),
             'Per-class accuracy:']
    for name, total, value in zip(names, self.confusion.sum(axis=1),
                                  self.per_class_accuracy()):
      lines.append('  %-*s %s  (%d examples)' % (
          width, name, 'n/a   ' if np.isnan(value) else '%.4f' % value,
          total))
    lines.append('Confusion matrix (rows: true class, columns: predicted):')
    lines.append(' ' * (width + 2) + ' '.join('%6s' % n[:6] for n in names))
    for name, row in zip(names, self.confusion):
      lines.append('  %-*s ' % (width, name) +
                   ' '.join('%6d' % v for v in row))
    return '\n'.join(lines)


def confusion_image(confusion, cell=24):
  """PNG bytes of the row-normalised confusion matrix (white 0, black 1)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  totals = np.maximum(confusion.sum(axis=1, keepdims=True), 1)
  shade = (255 * (1 - confusion / totals)).astype(np.uint8)
  image = Image.fromarray(np.kron(shade, np.ones((cell, cell), np.uint8)))
  buffer = io.BytesIO()
  image.save(buffer, format='PNG')
  return buffer.getvalue(), image.size


def write_summaries(eval_dir, global_step, scores, labels_to_names=None):
  """Writes eval/Accuracy, eval/Recall_5, per-class accuracy and the
  confusion-matrix image as TensorBoard summaries in eval_dir."""
  values = [
      tf.Summary.Value(tag='eval/Accuracy', simple_value=scores.accuracy),
      tf.Summary.Value(tag='eval/Recall_%d' % scores.k,
                       simple_value=scores.recall_at_k),
      tf.Summary.Value(tag='eval/num_examples',
                       simple_value=float(scores.count)),
  ]
  for label, value in enumerate(scores.per_class_accuracy()):
    if not np.isnan(value):
      name = (labels_to_names or {}).get(label, str(label))
      values.append(tf.Summary.Value(
          tag='eval/per_class_accuracy/%s' % name, simple_value=value))
  png, (width, height) = confusion_image(scores.confusion)
  values.append(tf.Summary.Value(
      tag='eval/confusion_matrix', image=tf.Summary.Image(
          height=height, width=width, colorspace=1,
          encoded_image_string=png)))
  # The TF1 event writer needs graph mode; the summaries are plain protos.
  with tf.Graph().as_default():
    writer = tf.summary.FileWriterCache.get(eval_dir)
  writer.add_summary(tf.Summary(value=values), global_step)
  writer.flush()


def evaluate(session, iterator_init, logits, labels, num_classes,
             max_num_batches=None):
  """Runs the eval graph over the split once; returns Scores.

  Args:
    session: a session with the model variables restored.
    iterator_init: op that (re)starts the input at the split's beginning.
    logits: Tensor [batch, num_classes]; labels: Tensor [batch].
    num_classes: logits width.
    max_num_batches: stop after this many batches (None: the whole split).
  """
  scores = Scores(num_classes)
  session.run(iterator_init)
  batches = 0
  while max_num_batches is None or batches < max_num_batches:
    try:
      batch_logits, batch_labels = session.run([logits, labels])
    except tf.errors.OutOfRangeError:
      break
    scores.update(batch_logits, batch_labels)
    batches += 1
  log.info('Scored %d examples in %d batches', scores.count, batches)
  return scores


_EvalGraph = collections.namedtuple(
    '_EvalGraph', ['dataset', 'init_op', 'logits', 'labels', 'var_map'])


def run(config):
  """Evaluates as `config` (an EvalConfig) says.

  Returns:
    The Scores of each checkpoint evaluated, in order.

  Raises:
    UserError: a setting, checkpoint or split the evaluation cannot use.
  """
  config.validate()
  if config.eval_interval_secs > 0 and not tf.gfile.IsDirectory(
      config.checkpoint_path or ''):
    raise UserError('--eval_interval_secs needs --checkpoint_path to be a '
                    'training folder, got %s' % config.checkpoint_path)
  tf.gfile.MakeDirs(config.eval_dir)
  results = []
  with tf.Graph().as_default():
    graph = _build_graph(config)
    if config.eval_interval_secs > 0:
      for path in tf.train.checkpoints_iterator(
          config.checkpoint_path, min_interval_secs=config.eval_interval_secs,
          timeout=config.eval_timeout_secs):
        results.append(_evaluate_checkpoint(config, path, graph))
      log.info('No new checkpoint for %s s: evaluated %d checkpoint(s); done',
               config.eval_timeout_secs, len(results))
    else:
      results.append(_evaluate_checkpoint(
          config, checkpoints.resolve(config.checkpoint_path), graph))
  log.info('TensorBoard summaries in %s', config.eval_dir)
  return results


def _build_graph(config):
  """The eval graph in the default graph."""
  dataset = dataset_factory.get_dataset(
      config.dataset_name, config.dataset_split_name, config.dataset_dir)
  num_classes = dataset.num_classes - config.labels_offset
  network_fn = nets_factory.get_network_fn(config.model_name, num_classes,
                                           is_training=False)
  preprocessing_fn = preprocessing_factory.get_preprocessing(
      config.preprocessing, is_training=False,
      use_grayscale=config.use_grayscale)
  image_size = config.eval_image_size or network_fn.default_image_size
  tf.train.get_or_create_global_step()

  def preprocess(image):
    return preprocessing_fn(image, image_size, image_size)

  batches = pipeline.build_dataset(
      dataset, preprocess, batch_size=config.batch_size, is_training=False,
      num_threads=config.num_preprocessing_threads,
      labels_offset=config.labels_offset)
  iterator = tf.data.make_initializable_iterator(batches)
  images, labels = iterator.get_next()
  logits, _ = network_fn(images)
  var_map = checkpoints.variables_to_restore(config.moving_average_decay)
  return _EvalGraph(dataset, iterator.initializer, logits, labels, var_map)


def _evaluate_checkpoint(config, checkpoint_path, graph):
  """Scores one checkpoint; prints the report and writes the summaries."""
  saver = checkpoints.restorer(checkpoint_path, graph.var_map)
  with tf.Session(config.master) as session:
    session.run(tf.local_variables_initializer())
    saver.restore(session, checkpoint_path)
    step = session.run(tf.train.get_global_step())
    log.info('Evaluating %s (step %d) on %s/%s', checkpoint_path, step,
             config.dataset_name, config.dataset_split_name)
    scores = evaluate(session, graph.init_op, graph.logits, graph.labels,
                      graph.logits.shape[-1], config.max_num_batches)
  if scores.count == 0:
    raise UserError('the split %s of %s has no examples to score' %
                    (config.dataset_split_name, config.dataset_dir))
  num_samples = graph.dataset.num_samples
  if config.max_num_batches is None and scores.count != num_samples:
    log.warning('Scored %d examples but the dataset declares %d for split %s',
                scores.count, num_samples, config.dataset_split_name)
  print(scores.report(graph.dataset.labels_to_names), flush=True)
  write_summaries(config.eval_dir, step, scores,
                  graph.dataset.labels_to_names)
  return scores
