"""core/errors.py: one line for the TensorFlow errors bad input causes."""

import logging

import tensorflow.compat.v1 as tf

from slimvision.core import errors

# TensorFlow 2.21's text for a truncated record file, as a session raises it.
TRUNCATED = (
    'Graph execution error:\n\nDetected at node \'IteratorGetNext\' defined '
    'at (most recent call last):\n    File "train.py", line 6, in <module>\n'
    'Node: \'IteratorGetNext\'\ntruncated record at 14029\' failed with Read '
    'less bytes than requested\n\t [[{{node IteratorGetNext}}]]')


def test_our_message_inside_tensorflows_text_is_the_line():
  error = tf.errors.InvalidArgumentError(
      None, None, 'Graph execution error:\n\nassertion failed: [%sinvalid '
      'data: /d/a\\"b.tfrecord record 4: label out of range [0, 6): 9%s]\n\t '
      '[[{{node Assert}}]]' % (errors.OPEN, errors.CLOSE))
  assert errors.describe_tf_error(error) == (
      'invalid data: /d/a"b.tfrecord record 4: label out of range [0, 6): 9')


def test_otherwise_the_line_that_says_what_went_wrong(caplog):
  error = tf.errors.DataLossError(None, None, TRUNCATED)
  logger = logging.getLogger('slimvision')
  propagate, level = logger.propagate, logger.level
  logger.propagate = True
  logger.setLevel(logging.DEBUG)
  try:
    with caplog.at_level(logging.DEBUG, logger='slimvision'):
      line = errors.describe_tf_error(error)
  finally:
    logger.propagate = propagate
    logger.setLevel(level)
  assert line == ('corrupt or truncated record file: truncated record at '
                  '14029\' failed with Read less bytes than requested')
  # The whole text is in the debug log.
  assert TRUNCATED in caplog.text


def test_other_errors_are_not_described():
  assert errors.describe_tf_error(ValueError('x')) is None
  assert errors.describe_tf_error(
      tf.errors.ResourceExhaustedError(None, None, 'OOM')) is None
