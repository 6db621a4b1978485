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
