"""User-facing errors.

`UserError` is input the program cannot honour: a flag, a file or data at
fault. The command line (cli/app.py) prints it as one `error: ...` line and
exits 2; `describe_tf_error` gives the same one-line treatment to the
TensorFlow errors that bad data causes.
"""


class UserError(ValueError):
  """Input the program cannot honour: a flag, a file or data at fault."""


def first_line(message):
  """The first non-empty line of a (TensorFlow) error message."""
  for line in str(message).splitlines():
    if line.strip():
      return line.strip()
  return str(message)


def describe_tf_error(error):
  """A one-line description of a TensorFlow error that bad input causes
  (corrupt records, undecodable images, missing files), or None for any
  other exception."""
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  prefixes = ((tf.errors.DataLossError, 'corrupt or truncated record file: '),
              (tf.errors.InvalidArgumentError, 'invalid data: '),
              (tf.errors.NotFoundError, 'not found: '))
  for error_class, prefix in prefixes:
    if isinstance(error, error_class):
      return prefix + first_line(error.message)
  return None
