"""Scoring a checkpoint: every example of a split counted exactly once.

The eval graph reads the split once in file order (keeping the last partial
batch), and the scores are accumulated from the model's outputs in NumPy:
accuracy, recall@5, per-class accuracy and the confusion matrix. The scores
then go to stdout and to TensorBoard under --eval_dir.
"""

import io

import numpy as np
import tensorflow.compat.v1 as tf

from slimvision.core import log


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
