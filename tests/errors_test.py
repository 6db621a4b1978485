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


# TensorFlow 2.21's text when a checkpoint save meets a full disk.
NO_SPACE = (
    'Graph execution error:\n\nDetected at node \'save/SaveV2\' defined at '
    '(most recent call last):\nNode: \'save/SaveV2\'\n/t/model.ckpt-1.data-'
    '00000-of-00001.tempstate1169; No space left on device\n\t [[{{node '
    'save/SaveV2}}]]')


def test_a_full_disk_is_one_line_naming_the_file():
  import errno  # pylint: disable=g-import-not-at-top
  error = tf.errors.ResourceExhaustedError(None, None, NO_SPACE)
  assert errors.is_out_of_space(error)
  assert errors.describe_out_of_space(error) == (
      'out of disk space: /t/model.ckpt-1.data-00000-of-00001.tempstate1169; '
      'No space left on device')
  quota = OSError(errno.EDQUOT, 'Disk quota exceeded', '/d/shard-3')
  assert errors.describe_out_of_space(quota) == (
      "out of disk space: [Errno %d] Disk quota exceeded: '/d/shard-3'"
      % errno.EDQUOT)
  for other in (OSError(errno.EACCES, 'Permission denied', '/d'),
                tf.errors.ResourceExhaustedError(None, None, 'OOM'),
                ValueError('No space left on device')):
    assert not errors.is_out_of_space(other)
    assert errors.describe_out_of_space(other) is None


def test_a_refused_file_is_one_line_naming_it():
  import errno  # pylint: disable=g-import-not-at-top
  assert errors.describe_file_error(PermissionError(
      errno.EACCES, 'Permission denied', '/data/out')) == (
          'Permission denied: /data/out')
  assert errors.describe_file_error(IsADirectoryError(
      errno.EISDIR, 'Is a directory', '/data')) == 'Is a directory: /data'
  assert errors.describe_file_error(OSError('no file named')) is None
  assert errors.describe_file_error(ValueError('x')) is None
  assert errors.describe_tf_error(tf.errors.PermissionDeniedError(
      None, None, '/data/model.ckpt-1.index; Permission denied')) == (
          'permission denied: /data/model.ckpt-1.index; Permission denied')
