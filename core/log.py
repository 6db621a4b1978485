"""The project's log: short timestamped lines on stderr.

TensorFlow's own INFO chatter (graph finalized, local init op, checkpoint
listeners) and its deprecation notices are turned off by `setup()`, which
every command calls through `cli/app.py`; our progress lines use
`log.info`.
"""

import logging
import sys
import warnings

logger = logging.getLogger('slimvision')
info = logger.info
warning = logger.warning

# When the running command started (time.time()), set by cli/app.py; None
# when the library is called directly.
command_start = None


class _StderrHandler(logging.StreamHandler):
  """Writes to whatever sys.stderr is when a line is logged, so output
  redirected in-process (contextlib.redirect_stderr) is followed."""

  @property
  def stream(self):
    return sys.stderr

  @stream.setter
  def stream(self, unused_value):
    pass


def setup(level=logging.INFO):
  """Routes our log to stderr and quiets TensorFlow's INFO messages."""
  if not logger.handlers:
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter('%(asctime)s %(message)s',
                                           '%H:%M:%S'))
    logger.addHandler(handler)
  logger.setLevel(level)
  logger.propagate = False
  tf_logger = logging.getLogger('tensorflow')
  tf_logger.setLevel(logging.WARNING)
  # TensorFlow's logger has a handler of its own; propagating to absl's root
  # handler as well would print every warning twice.
  tf_logger.propagate = False
  # "X is deprecated, instructions for updating" notices are about the TF1
  # APIs tf-slim calls, which the user can do nothing about. Set once
  # TensorFlow is loaded (the compatibility layer's apply()), or now if it
  # already is: this module must not load it.
  quiet_tensorflow_deprecations()
  # tf-slim calls the TF1 layers, which warn on every use that they are
  # deprecated; that is the compatibility layer's business, not the user's.
  warnings.filterwarnings('ignore', category=UserWarning,
                          module=r'(tensorflow|tf_keras|tf_slim)\.')


def quiet_tensorflow_deprecations():
  """Turns TensorFlow's deprecation notices off, if TensorFlow is loaded."""
  deprecation = sys.modules.get('tensorflow.python.util.deprecation')
  if deprecation is not None:
    deprecation._PRINT_DEPRECATION_WARNINGS = False  # pylint: disable=protected-access


def format_duration(seconds):
  """'H:MM:SS' with as many hours as it takes (no wrap at 24 hours)."""
  seconds = int(round(max(0.0, seconds)))
  return '%d:%02d:%02d' % (seconds // 3600, seconds // 60 % 60, seconds % 60)
