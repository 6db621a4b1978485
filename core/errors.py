"""User-facing errors.

`UserError` is input the program cannot honour: a flag, a file or data at
fault. The command line (cli/app.py) prints it as one `error: ...` line and
exits 2; `describe_tf_error` gives the same one-line treatment to the
TensorFlow errors that bad input causes.

A message of ours that can only reach the user inside a TensorFlow error
(the input pipeline's reports of bad records) is put between `OPEN` and
`CLOSE`, so `describe_tf_error` finds it in TensorFlow's text.
"""

import errno
import os
import re

OPEN, CLOSE = '<<slimvision: ', '>>'
_OURS = re.compile(re.escape(OPEN) + r'(.*?)' + re.escape(CLOSE))
# TensorFlow's framing of a graph error: its first line, where the failing
# node was defined (indented traceback lines) and the node's name.
_FRAMING = re.compile(r'Graph execution error:|Detected at node |Node: |\s')
# The failing node's name in TensorFlow's text, and the op type the
# runtime's NodeDef had (a fused op can differ from the graph's).
_NODE = re.compile(r"Node: '([^']+)'|\{\{node ([^}]+)\}\}|"
                   r"Cannot assign a device for operation '?([^':\s]+)")
_OP_TYPE = re.compile(r'Op<name=([\w.]+)')
# The input pipeline's nodes (tf.data iterators).
_INPUT_NODES = ('IteratorGetNext', 'IteratorV2', 'OneShotIterator')


class UserError(ValueError):
  """Input the program cannot honour: a flag, a file or data at fault."""


class Interrupted(Exception):
  """The user or a scheduler stopped the command (SIGINT, SIGTERM) and it
  ended cleanly; the message says what was kept. Exits 128 + the signal
  number, as a shell reports a command a signal ended."""

  def __init__(self, message, signum):
    super().__init__(message)
    self.signum = signum


class Terminated(KeyboardInterrupt):
  """SIGTERM, raised where the program stands (cli/app.py), so that it
  unwinds as after Ctrl-C and staged and temporary files are removed."""


def first_line(message):
  """The first non-empty line of a (TensorFlow) error message."""
  for line in str(message).splitlines():
    if line.strip():
      return line.strip()
  return str(message)


def tf_error_text(message):
  """The line of a TensorFlow error message that says what went wrong:
  the first one that is not the graph-error framing (or the first line)."""
  for line in str(message).splitlines():
    if line.strip() and not _FRAMING.match(line):
      return line.strip()
  return first_line(message)


def ours(message):
  """Our message inside a TensorFlow error's text, or None."""
  match = _OURS.search(str(message))
  if match is None:
    return None
  # C-escaped (\" and \\), as a graph assertion prints a string.
  return re.sub(r'\\(.)', r'\1', match.group(1))


def is_out_of_space(error):
  """Whether `error` (an OSError or a TensorFlow error) is a full disk or
  quota (ENOSPC, EDQUOT)."""
  if isinstance(error, OSError):
    return error.errno in (errno.ENOSPC, errno.EDQUOT)
  text = str(getattr(error, 'message', ''))
  return any(os.strerror(code) in text for code in (errno.ENOSPC,
                                                     errno.EDQUOT))


def describe_out_of_space(error):
  """'out of disk space: <what could not be written>' for a full disk or
  quota, or None for any other exception."""
  if not is_out_of_space(error):
    return None
  if isinstance(error, OSError):
    return 'out of disk space: %s' % error
  return 'out of disk space: %s' % tf_error_text(error.message)


def describe_file_error(error):
  """'<reason>: <file>' for an OSError about a file (permission denied, a
  folder where a file should be, ...), or None for any other exception."""
  if isinstance(error, OSError) and error.filename:
    return '%s: %s' % (error.strerror or error, error.filename)
  return None


def failing_node(message):
  """The name of the graph node a TensorFlow error names, or None."""
  match = _NODE.search(str(message))
  return next(g for g in match.groups() if g) if match else None


def _reads_records(node):
  """Whether errors of graph node `node` come from reading or decoding
  records: the input pipeline's iterator, or no node at all (a dataset
  function's own error, as the tests of the pipeline raise it)."""
  return node is None or node.split('/')[-1].startswith(_INPUT_NODES)


def describe_kernel_error(error, graph=None):
  """'TensorFlow cannot run node N (op T) on D: <reason>' for an error of
  a graph node outside the input pipeline that has no kernel for its types
  or device (InvalidArgumentError, or NotFoundError naming an OpKernel);
  None for any other error. `graph` (default: the default graph) gives the
  device the node was placed on."""
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  message = getattr(error, 'message', '')
  if ours(message) is not None:  # The input pipeline's own report.
    return None
  node = failing_node(message)
  if _reads_records(node) or not (
      isinstance(error, tf.errors.InvalidArgumentError) or
      (isinstance(error, tf.errors.NotFoundError) and
       'OpKernel' in error.message)):
    return None
  runtime_type = _OP_TYPE.search(error.message)
  op_type = runtime_type.group(1) if runtime_type else ''
  device = ''
  try:
    operation = (graph or tf.get_default_graph()).get_operation_by_name(node)
    device = operation.device
    op_type = op_type or operation.type
  except (KeyError, ValueError):
    pass  # Not a node of this graph: the text is all there is.
  return 'TensorFlow cannot run node %s%s%s: %s' % (
      node, ' (op %s)' % op_type if op_type else '',
      ' on ' + device if device else '', tf_error_text(error.message))


def describe_tf_error(error):
  """A one-line description of a TensorFlow error that bad input causes
  (corrupt records, undecodable images, missing files) or that names a
  node without a kernel, or None for any other exception. "invalid data"
  is said only of errors raised while reading or decoding records.
  TensorFlow's whole text goes to the debug log."""
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  from slimvision.core import log  # pylint: disable=g-import-not-at-top
  if not isinstance(error, tf.errors.OpError):
    return None
  log.logger.debug('%s: %s', type(error).__name__, error.message)
  message = ours(error.message) or describe_kernel_error(error)
  if message is not None:
    return message
  prefixes = ((tf.errors.DataLossError, 'corrupt or truncated record file: '),
              (tf.errors.InvalidArgumentError, 'invalid data: '),
              (tf.errors.NotFoundError, 'not found: '),
              (tf.errors.PermissionDeniedError, 'permission denied: '))
  for error_class, prefix in prefixes:
    if isinstance(error, error_class):
      return prefix + tf_error_text(error.message)
  return None
