"""Test set-up: import the checkout as package `slimvision`, shared fixtures."""

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import _checkout  # noqa: E402,F401  (registers the checkout as `slimvision`)

FIXTURES = os.path.join(ROOT, 'tests', 'fixtures')
SHARED = os.path.join(os.path.dirname(ROOT), 'shared')


def load_manifest(name):
  """The model-zoo facts for network `name` (see fixtures/model_zoo)."""
  with open(os.path.join(FIXTURES, 'model_zoo', name + '.json')) as f:
    return json.load(f)


def shared_path(*parts):
  """Path under ../shared, or skips the test when it is absent."""
  path = os.path.join(SHARED, *parts)
  if not os.path.exists(path):
    pytest.skip('needs %s (the shared data beside the checkout)' % path)
  return path


@pytest.fixture(scope='session')
def shapes_dir(tmp_path_factory):
  """A small converted `shapes` dataset: 8 train and 2 validation images per
  class (48 / 12), 32x32 PNG, with its image folders under images/."""
  from slimvision.datasets import shapes
  out = str(tmp_path_factory.mktemp('shapes'))
  shapes.download_and_convert(out, train_per_class=8, validation_per_class=2,
                              log=lambda *_: None)
  return out


def run_script(script, *args, timeout=600):
  """Runs a top-level script of the checkout; returns CompletedProcess."""
  import subprocess
  return subprocess.run([sys.executable, os.path.join(ROOT, script)] +
                        [str(a) for a in args], capture_output=True,
                        text=True, timeout=timeout, cwd=ROOT)


def error_line(result):
  """The `error: ...` line a script printed on stderr (or '')."""
  for line in result.stderr.splitlines():
    if line.startswith('error: '):
      return line
  return ''
