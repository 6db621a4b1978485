"""User-facing errors and the command-line entry wrapper.

Every script runs its `main` through `run_main`, which turns the errors a
user can cause (bad flags, bad files, bad data) into one clear line on
stderr and exit status 2, instead of a long TensorFlow trace.
"""

import sys

from absl import app

from slimvision.core import log


class UserError(ValueError):
  """Input the program cannot honour: a flag, a file or data at fault."""


def first_line(message):
  """The first non-empty line of a (TensorFlow) error message."""
  for line in str(message).splitlines():
    if line.strip():
      return line.strip()
  return str(message)


def _report(prefix, message):
  sys.stderr.write('error: %s%s\n' % (prefix, message))
  sys.stderr.flush()
  sys.exit(2)


def run_main(main):
  """absl `app.run(main)` with one-line errors for input at fault."""
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top

  def guarded(argv):
    log.setup()
    try:
      return main(argv)
    except UserError as e:
      _report('', e)
    except tf.errors.DataLossError as e:
      _report('corrupt or truncated record file: ', first_line(e.message))
    except tf.errors.InvalidArgumentError as e:
      _report('invalid data: ', first_line(e.message))
    except tf.errors.NotFoundError as e:
      _report('not found: ', first_line(e.message))

  app.run(guarded)
