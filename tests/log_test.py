"""Tests for core/log.py: what a script prints besides its own lines."""

import subprocess
import sys

from conftest import ROOT

_PROGRAM = r'''
from slimvision.core import log
import tensorflow.compat.v1 as tf
log.setup()
log.info('our line')
tf.logging.warning('tf warning')
tf.logging.info('tf info')
tf.initializers.ones(dtype=tf.float32)  # a deprecated TF1 call
'''


def test_setup_prints_ours_and_each_tf_warning_once():
  result = subprocess.run([sys.executable, '-c', _PROGRAM], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  assert result.stderr.count('our line') == 1
  assert result.stderr.count('tf warning') == 1
  assert 'tf info' not in result.stderr
  assert 'deprecated' not in result.stderr
