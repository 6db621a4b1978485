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


# TensorFlow 2.21's text when a task of a cluster refuses a bf16 fused
# convolution (before the fused-op remapper was turned off there).
NO_BF16_KERNEL = (
    'Graph execution error:\n\nDetected at node \'CifarNet/conv1/Relu\' '
    'defined at (most recent call last):\n    File "train.py", line 5\n'
    'Node: \'CifarNet/conv1/Relu\'\nValue for attr \'T\' of bfloat16 is not '
    'in the list of allowed values: half, float, double, int8, qint8\n\t; '
    'NodeDef: {{node CifarNet/conv1/Relu}}; Op<name=_FusedConv2D; '
    'signature=input:T, filter:T, args: -> output:T>')


def test_a_node_without_a_kernel_is_not_called_invalid_data():
  with tf.Graph().as_default() as graph:
    with tf.device('/job:worker/task:1/device:CPU:0'):
      tf.nn.relu(tf.zeros([1]), name='CifarNet/conv1/Relu')
    error = tf.errors.InvalidArgumentError(None, None, NO_BF16_KERNEL)
    line = errors.describe_tf_error(error)
    assert errors.describe_kernel_error(error, graph) == line
  assert line == (
      'TensorFlow cannot run node CifarNet/conv1/Relu (op _FusedConv2D) on '
      '/job:worker/task:1/device:CPU:0: Value for attr \'T\' of bfloat16 is '
      'not in the list of allowed values: half, float, double, int8, qint8')
  assert 'invalid data' not in line


def test_only_the_input_pipelines_errors_are_invalid_data():
  decode = tf.errors.InvalidArgumentError(None, None, (
      'Graph execution error:\n\nDetected at node \'IteratorGetNext\'\n'
      'Node: \'IteratorGetNext\'\nInvalid JPEG data or crop window\n\t '
      '[[{{node IteratorGetNext}}]]'))
  assert errors.describe_kernel_error(decode) is None
  assert errors.describe_tf_error(decode) == (
      'invalid data: Invalid JPEG data or crop window')
  placement = tf.errors.InvalidArgumentError(None, None, (
      'Cannot assign a device for operation logits/MatMul: Could not '
      'satisfy explicit device specification \'/device:GPU:3\''))
  with tf.Graph().as_default():
    assert errors.describe_tf_error(placement) == (
        'TensorFlow cannot run node logits/MatMul: Cannot '
        'assign a device for operation logits/MatMul: Could not satisfy '
        'explicit device specification \'/device:GPU:3\'')
  no_kernel = tf.errors.NotFoundError(None, None, (
      "No registered 'Foo' OpKernel for 'CPU' devices compatible with node "
      "{{node net/Foo}}"))
  with tf.Graph().as_default():
    assert errors.describe_tf_error(no_kernel).startswith(
        'TensorFlow cannot run node net/Foo: No registered ')


def test_our_report_inside_an_assertion_is_no_kernel_error():
  error = tf.errors.InvalidArgumentError(None, None, (
      "Graph execution error:\n\nNode: 'Assert/Assert'\nassertion failed: "
      "[%sinvalid data: /d/a.tfrecord record 2: the record cannot be parsed"
      "%s]\n\t [[{{node Assert/Assert}}]]" % (errors.OPEN, errors.CLOSE)))
  assert errors.describe_kernel_error(error) is None
  assert errors.describe_tf_error(error) == (
      'invalid data: /d/a.tfrecord record 2: the record cannot be parsed')
