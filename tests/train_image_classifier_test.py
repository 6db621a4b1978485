"""Training runs: kill and resume, the NaN guard, fine-tuning."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from conftest import ROOT, error_line, run_cli, run_script
from slimvision.datasets import image_folder

_LENET = ['--model_name=lenet', '--preprocessing_name=lenet',
          '--batch_size=4', '--log_every_n_steps=1']


def _checkpoint_values(path):
  reader = tf.train.load_checkpoint(path)
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()}


def _step(path):
  return int(path.rsplit('-', 1)[1])


def test_killed_run_resumes_with_step_and_optimizer_state(shapes_dir,
                                                          tmp_path):
  train_dir = str(tmp_path / 'train')
  args = ['--dataset_name=shapes', '--dataset_dir=' + shapes_dir,
          '--train_dir=' + train_dir, '--optimizer=momentum',
          '--learning_rate=0.001', '--save_interval_secs=1'] + _LENET
  process = subprocess.Popen(
      [sys.executable, os.path.join(ROOT, 'train_image_classifier.py')] +
      args + ['--max_number_of_steps=100000'],
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
  try:
    deadline = time.time() + 240
    while time.time() < deadline:
      latest = tf.train.latest_checkpoint(train_dir)
      if latest and _step(latest) >= 5:
        break
      time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
  finally:
    process.wait()
  latest = tf.train.latest_checkpoint(train_dir)
  assert latest and _step(latest) >= 5
  # Every checkpoint the state file lists is complete and readable.
  state = tf.train.get_checkpoint_state(train_dir)
  for path in state.all_model_checkpoint_paths:
    assert 'global_step' in _checkpoint_values(path)
  before = _checkpoint_values(latest)
  assert any(name.endswith('/Momentum') for name in before)
  step = _step(latest)
  # Resuming with the limit already reached restores and re-saves the same
  # step: every value, the momentum slots included, comes back bit-exact.
  same = run_cli('train_image_classifier.py', *args,
                    '--max_number_of_steps=%d' % step)
  assert same.returncode == 0, same.stderr[-2000:]
  assert 'Resuming from %s' % latest in same.stderr
  assert 'nothing to train' in same.stderr
  after = _checkpoint_values(latest)
  assert sorted(after) == sorted(before)
  for name in before:
    np.testing.assert_array_equal(after[name], before[name], err_msg=name)
  more = run_cli('train_image_classifier.py', *args,
                    '--max_number_of_steps=%d' % (step + 3))
  assert more.returncode == 0
  assert 'step %d: loss' % (step + 1) in more.stderr, more.stderr[-3000:]
  assert _step(tf.train.latest_checkpoint(train_dir)) == step + 3


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(
    shapes_dir, tmp_path):
  train_dir = str(tmp_path / 'train')
  args = ['--dataset_name=shapes', '--dataset_dir=' + shapes_dir,
          '--train_dir=' + train_dir, '--optimizer=sgd'] + _LENET
  # A process of its own: TensorFlow's warnings bypass Python's stderr.
  good = run_script('train_image_classifier.py', *args,
                    '--learning_rate=0.001', '--max_number_of_steps=3')
  assert good.returncode == 0, good.stderr[-2000:]
  # The input functions are ones AutoGraph can read (no multi-line lambda).
  assert 'AutoGraph could not transform' not in good.stderr
  result = run_cli('train_image_classifier.py', *args,
                      '--learning_rate=1e38', '--max_number_of_steps=50',
                      '--save_interval_secs=600')
  assert result.returncode == 2
  message = error_line(result)
  assert 'loss is nan' in message or 'loss is inf' in message, message
  assert 'model.ckpt-3' in message
  latest = tf.train.latest_checkpoint(train_dir)
  assert _step(latest) == 3
  for name, value in _checkpoint_values(latest).items():
    assert np.all(np.isfinite(value)), name


@pytest.fixture(scope='module')
def two_class_dir(tmp_path_factory):
  """A 2-class image-folder dataset of 16 x 16 noise images."""
  from PIL import Image
  root = tmp_path_factory.mktemp('twoclass')
  rng = np.random.RandomState(0)
  for label, name in enumerate(('dark', 'light')):
    os.makedirs(root / 'src' / name)
    for i in range(6):
      pixels = rng.randint(0, 128, (16, 16, 3)) + 127 * label
      Image.fromarray(pixels.astype(np.uint8)).save(
          root / 'src' / name / ('%d.png' % i))
  image_folder.convert('twoclass', str(root / 'src'), str(root / 'out'),
                       validation_fraction=0.5, log=lambda *_: None)
  return str(root / 'out')


def test_fine_tuning_changes_only_the_trainable_scopes(shapes_dir,
                                                       two_class_dir,
                                                       tmp_path):
  common = ['--model_name=cifarnet', '--batch_size=4', '--optimizer=sgd',
            '--learning_rate=0.1']
  source = str(tmp_path / 'source')
  result = run_cli('train_image_classifier.py', '--dataset_name=shapes',
                      '--dataset_dir=' + shapes_dir, '--train_dir=' + source,
                      '--max_number_of_steps=2', *common)
  assert result.returncode == 0, result.stderr[-2000:]
  original = _checkpoint_values(tf.train.latest_checkpoint(source))

  mismatch = run_cli('train_image_classifier.py',
                        '--dataset_name=twoclass',
                        '--dataset_dir=' + two_class_dir,
                        '--train_dir=' + str(tmp_path / 'bad'),
                        '--checkpoint_path=' + source,
                        '--max_number_of_steps=2', *common)
  assert mismatch.returncode == 2
  assert ('CifarNet/logits/weights has shape [192, 2] in the model but '
          '[192, 6]') in error_line(mismatch)
  assert '--checkpoint_exclude_scopes' in error_line(mismatch)

  tuned = str(tmp_path / 'tuned')
  result = run_cli('train_image_classifier.py', '--dataset_name=twoclass',
                      '--dataset_dir=' + two_class_dir,
                      '--train_dir=' + tuned, '--checkpoint_path=' + source,
                      '--checkpoint_exclude_scopes=CifarNet/logits',
                      '--trainable_scopes=CifarNet/logits',
                      '--max_number_of_steps=3', *common)
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'Fine-tuning from' in result.stderr
  first = _checkpoint_values(os.path.join(tuned, 'model.ckpt-0'))
  final = _checkpoint_values(tf.train.latest_checkpoint(tuned))
  body = [n for n in original
          if n.startswith('CifarNet/') and not n.startswith('CifarNet/logits')]
  assert len(body) == 8
  for name in body:  # Restored bit-exactly, then left alone.
    np.testing.assert_array_equal(first[name], original[name], err_msg=name)
    np.testing.assert_array_equal(final[name], original[name], err_msg=name)
  assert final['CifarNet/logits/weights'].shape == (192, 2)
  assert not np.array_equal(final['CifarNet/logits/weights'],
                            first['CifarNet/logits/weights'])


def test_a_dataset_registered_by_the_user_is_trained_on(two_class_dir,
                                                        tmp_path):
  # What the classic "add your own dataset" tutorials do: a module with
  # get_split added to dataset_factory.datasets_map.
  import json
  import types
  from slimvision.datasets import dataset_factory
  user_module = types.ModuleType('my_dataset')
  requested = []

  def get_split(split_name, dataset_dir, file_pattern=None, reader=None):
    requested.append((split_name, dataset_dir))
    return image_folder.get_split(split_name, two_class_dir, file_pattern,
                                  reader)

  user_module.get_split = get_split
  dataset_factory.datasets_map['my_dataset'] = user_module
  try:
    train_dir = str(tmp_path / 'train')
    result = run_cli('train_image_classifier.py', '--dataset_name=my_dataset',
                     '--dataset_dir=/anywhere', '--train_dir=' + train_dir,
                     '--max_number_of_steps=2', *_LENET)
  finally:
    del dataset_factory.datasets_map['my_dataset']
  assert result.returncode == 0, result.stderr[-2000:]
  assert requested == [('train', '/anywhere')]
  assert _step(tf.train.latest_checkpoint(train_dir)) == 2
  assert _checkpoint_values(tf.train.latest_checkpoint(train_dir))[
      'LeNet/fc4/weights'].shape == (1024, 2)
  # The run's resolved configuration is recorded in the train_dir.
  with open(os.path.join(train_dir, 'train_config.json')) as f:
    recorded = json.load(f)
  assert recorded['config'] == 'TrainConfig'
  assert recorded['flags']['dataset_name'] == 'my_dataset'
  assert recorded['flags']['batch_size'] == 4
  assert recorded['resolved'] == {'image_size': 28, 'num_classes': 2,
                                  'num_samples': 6}
