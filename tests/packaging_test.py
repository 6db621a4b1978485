"""`pip install .` puts everything under `slimvision`, nothing at the top."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT


def test_install_layout_and_console_commands(tmp_path):
  pytest.importorskip('setuptools', reason='the build needs setuptools')
  pytest.importorskip('wheel', reason='the build needs wheel')
  target = tmp_path / 'site'
  subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
                  '--no-build-isolation', '--target', str(target), ROOT],
                 check=True, capture_output=True, cwd=str(tmp_path))
  top_level = sorted(p.name for p in target.iterdir()
                     if not p.name.endswith('.dist-info'))
  assert top_level == ['bin', 'slimvision']
  package = sorted(os.listdir(target / 'slimvision'))
  for name in ('datasets', 'nets', 'preprocessing', 'deployment', 'core',
               'engines', 'cli',
               'train_image_classifier.py', 'eval_image_classifier.py',
               'download_and_convert_data.py'):
    assert name in package
  assert 'setup.py' not in package and 'tests' not in package
  # The research/slim module paths are installed too.
  for module in ('nets/mobilenet/mobilenet_v2.py', 'nets/nasnet/nasnet.py',
                 'nets/resnet_utils.py', 'engines/training.py'):
    assert (target / 'slimvision' / module).is_file(), module
  assert {'slim-train-image-classifier', 'slim-eval-image-classifier',
          'slim-download-and-convert-data', 'slim-classify-image',
          'slim-export-inference-graph'} <= set(os.listdir(target / 'bin'))
  # From another folder, the installed command runs and rejects bad input
  # with its one-line error.
  env = dict(os.environ, PYTHONPATH=str(target))
  result = subprocess.run(
      [sys.executable, str(target / 'bin' / 'slim-download-and-convert-data'),
       '--dataset_name=nope', '--dataset_dir=' + str(tmp_path / 'out')],
      capture_output=True, text=True, cwd=str(tmp_path), env=env)
  assert result.returncode == 2
  assert "error: Unknown --dataset_name 'nope'" in result.stderr
  # --help on a console command lists that command's own flags.
  result = subprocess.run(
      [sys.executable, str(target / 'bin' / 'slim-train-image-classifier'),
       '--help'], capture_output=True, text=True, cwd=str(tmp_path), env=env)
  assert result.returncode == 0, result.stderr[-2000:]
  for flag in ('--model_name', '--dataset_dir', '--batch_size'):
    assert flag in result.stdout
  assert 'The number of samples in each batch' in result.stdout
