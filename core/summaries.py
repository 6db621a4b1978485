"""Summaries whose TensorBoard tag is exactly the name given.

tf.summary.scalar('total_loss', x) in a graph that already has an op named
`total_loss` is tagged `total_loss_1` (TF-Slim runs showed such tags). These
helpers emit the summary op with the tag as given and add it to the
SUMMARIES collection.
"""

import tensorflow.compat.v1 as tf


def _add(op):
  tf.add_to_collection(tf.GraphKeys.SUMMARIES, op)
  return op


def scalar(tag, value):
  """A scalar summary tagged `tag`."""
  return _add(tf.raw_ops.ScalarSummary(tags=tag,
                                       values=tf.cast(value, tf.float32)))


def histogram(tag, values):
  """A histogram summary tagged `tag`."""
  return _add(tf.raw_ops.HistogramSummary(tag=tag, values=values))
