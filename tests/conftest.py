"""Shared test fixtures.

The tests import `slimvision` as installed: `pip install -e '.[test]'` (the
README's test command) makes that the checkout itself, so the tests, the
quick start and CI all run the same code.
"""

import contextlib
import io
import json
import logging
import os
import signal

import pytest

# Sets TensorFlow's environment (oneDNN on, quiet C++ logs) before any test
# module imports TensorFlow, as the commands do. Loads no TensorFlow.
import slimvision  # pylint: disable=unused-import

import processes
from processes import ROOT  # The checkout: the scripts' folder.

FIXTURES = os.path.join(ROOT, 'tests', 'fixtures')
SHARED = os.path.join(os.path.dirname(ROOT), 'shared')


def load_manifest(name):
  """The model-zoo facts for network `name` (see fixtures/model_zoo)."""
  with open(os.path.join(FIXTURES, 'model_zoo', name + '.json')) as f:
    return json.load(f)


def assert_matches_manifest(manifest, logits, end_points):
  """Checks the network built in the default graph against its manifest:
  variables (names, shapes, creation order), model and trainable sets, end
  points and logits shapes."""
  import tensorflow.compat.v1 as tf
  variables = [[v.op.name, v.shape.as_list()] for v in tf.global_variables()
               if v.op.name != 'global_step']
  assert variables == manifest['variables']
  assert sorted(v.op.name for v in tf.model_variables()) == sorted(
      manifest['model_variables'])
  assert sorted(v.op.name for v in tf.trainable_variables()) == sorted(
      manifest['trainable_variables'])
  assert {k: v.shape.as_list() for k, v in end_points.items()} == (
      manifest['end_points'])
  assert logits.shape.as_list() == manifest['logits_shape']


class _LogRecords(logging.Handler):
  """A logging handler that keeps the records it is given."""

  def __init__(self):
    super().__init__()
    self.records = []

  def emit(self, record):
    self.records.append(record)


@contextlib.contextmanager
def tensorflow_log():
  """Collects what TensorFlow's Python logger logs in the block (a list of
  LogRecords), wherever its handler writes: it writes to the stream that
  was sys.stderr when it was made, which run_cli does not capture."""
  handler = _LogRecords()
  logger = logging.getLogger('tensorflow')
  logger.addHandler(handler)
  try:
    yield handler.records
  finally:
    logger.removeHandler(handler)


def free_ports(count):
  """`count` TCP ports on 127.0.0.1 free at the time of the call."""
  import socket  # pylint: disable=g-import-not-at-top
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(('127.0.0.1', 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def start_training(args, log_path):
  """train_image_classifier.py with `args` in a process of its own (forked
  with TensorFlow imported: processes.py), its output going to `log_path`;
  returns the process (Popen's poll, wait, kill, send_signal)."""
  import subprocess  # pylint: disable=g-import-not-at-top
  with open(log_path, 'w') as log:
    return processes.start(processes.script('train_image_classifier.py'),
                           args, stdout=log, stderr=subprocess.STDOUT)


def logged_steps(text):
  """The global steps of a training log's progress lines."""
  import re  # pylint: disable=g-import-not-at-top
  return [int(s) for s in re.findall(r'global step (\d+): loss', text)]


def wait_for_log(predicate, process, log_path, timeout=240):
  """Waits until predicate(the log's text) holds; fails if `process`
  ends or `timeout` seconds pass first."""
  import time  # pylint: disable=g-import-not-at-top
  deadline = time.time() + timeout
  while not predicate(log_path.read_text()):
    assert time.time() < deadline and process.poll() is None, (
        log_path.read_text()[-3000:])
    time.sleep(0.2)


def shared_path(*parts):
  """Path under ../shared, or skips the test when it is absent."""
  path = os.path.join(SHARED, *parts)
  if not os.path.exists(path):
    pytest.skip('needs %s (the shared data beside the checkout)' % path)
  return path


@pytest.fixture
def terminal_sigint():
  """Ctrl-C as in a terminal, for this test and the processes it starts.

  A suite started in the background (`pytest &` in a script) inherits
  SIGINT ignored, which the training hook rightly keeps ignored; the tests
  of Ctrl-C start from Python's own handler instead (a child process gets
  the default action, so its Python installs that handler too).
  """
  previous = signal.signal(signal.SIGINT, signal.default_int_handler)
  yield
  signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope='session')
def shapes_dir(tmp_path_factory):
  """A small converted `shapes` dataset: 8 train and 2 validation images per
  class (48 / 12), 32x32 PNG, with its image folders under images/."""
  from slimvision.datasets import shapes
  out = str(tmp_path_factory.mktemp('shapes'))
  shapes.download_and_convert(out, train_per_class=8, validation_per_class=2,
                              log=lambda *_: None)
  return out


@pytest.fixture(scope='session')
def cifarnet_train_dir(shapes_dir, tmp_path_factory):
  """A train_dir holding a cifarnet trained 2 steps on `shapes_dir` (batch
  8, sgd, seed 1): weights for the export and serving tests, which check
  that formats agree, not what the model learned."""
  train_dir = str(tmp_path_factory.mktemp('cifarnet') / 'train')
  result = run_cli(
      'train_image_classifier.py', '--dataset_name=shapes',
      '--dataset_dir=' + shapes_dir, '--model_name=cifarnet',
      '--train_dir=' + train_dir, '--max_number_of_steps=2',
      '--batch_size=8', '--optimizer=sgd', '--seed=1')
  assert result.returncode == 0, result.stderr[-3000:]
  return train_dir


@pytest.fixture(scope='session')
def mobilenet_train_dir(shapes_dir, tmp_path_factory):
  """A train_dir holding a mobilenet_v1_025 trained 3 steps on `shapes_dir`
  at 32 px (batch 8, sgd, seed 1, batch-norm decay 0.5 so the moving
  statistics follow): a float checkpoint with batch norm for the integer
  export and quantization-aware training tests."""
  train_dir = str(tmp_path_factory.mktemp('mobilenet') / 'train')
  result = run_cli(
      'train_image_classifier.py', '--dataset_name=shapes',
      '--dataset_dir=' + shapes_dir, '--model_name=mobilenet_v1_025',
      '--train_image_size=32', '--train_dir=' + train_dir,
      '--max_number_of_steps=3', '--batch_size=8', '--optimizer=sgd',
      '--seed=1', '--batch_norm_decay=0.5')
  assert result.returncode == 0, result.stderr[-3000:]
  return train_dir


def run_script(script, *args, timeout=600):
  """Runs a top-level script of the checkout in a process of its own
  (forked with TensorFlow imported: processes.py); returns the
  CompletedProcess. Only for what needs a process: exit codes seen by a
  shell, signals, several processes at once. Otherwise use run_cli."""
  return processes.run(processes.script(script), args, timeout=timeout)


def error_line(result):
  """The `error: ...` line a script printed on stderr (or '')."""
  for line in result.stderr.splitlines():
    if line.startswith('error: '):
      return line
  return ''


class CliResult(object):
  """What an in-process script run returned and printed."""

  def __init__(self, returncode, stdout, stderr):
    self.returncode = returncode
    self.stdout = stdout
    self.stderr = stderr


def run_cli(script, *args):
  """Runs a top-level script's `run(argv)` in this process (flags -> config
  -> engine -> exit status), capturing what it prints; returns CliResult.

  Args:
    script: its file name, e.g. 'train_image_classifier.py'.
    *args: the command-line arguments.
  """
  import importlib
  module = importlib.import_module('slimvision.' + script[:-len('.py')])
  stdout, stderr = io.StringIO(), io.StringIO()
  with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
    code = module.run(['prog'] + [str(a) for a in args])
  return CliResult(code, stdout.getvalue(), stderr.getvalue())
