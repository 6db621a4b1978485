"""Training runs: kill and resume, the NaN guard, fine-tuning (TF-Slim's
semantics: scopes, batch-norm statistics, unrelated checkpoints)."""

import os
import re
import signal
import time

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from conftest import error_line, run_cli, shared_path, tensorflow_log
import processes
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
  process = processes.start(processes.script('train_image_classifier.py'),
                            args + ['--max_number_of_steps=100000'])
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


def test_ctrl_c_saves_the_step_reached_and_the_run_resumes_from_it(
    shapes_dir, tmp_path, terminal_sigint):
  train_dir = str(tmp_path / 'train')
  args = ['--dataset_name=shapes', '--dataset_dir=' + shapes_dir,
          '--train_dir=' + train_dir, '--log_every_n_steps=1'] + _LENET
  log_path = tmp_path / 'train.log'
  with open(str(log_path), 'w') as log_file:
    process = processes.start(processes.script('train_image_classifier.py'),
                              args + ['--max_number_of_steps=100000'],
                              stderr=log_file)
    try:
      deadline = time.time() + 240
      while 'global step 5: ' not in log_path.read_text():
        assert time.time() < deadline and process.poll() is None, (
            log_path.read_text()[-3000:])
        time.sleep(0.2)
      process.send_signal(signal.SIGINT)
      code = process.wait(timeout=120)
    finally:
      if process.poll() is None:
        process.kill()
  text = log_path.read_text()
  assert code == 128 + signal.SIGINT, text[-3000:]
  assert 'Traceback' not in text
  stopped = re.search(r'Stopped by SIGINT at step (\d+); saved (\S+): run '
                      r'the same command to resume', text)
  assert stopped, text[-3000:]
  step = int(stopped.group(1))
  assert step >= 5
  assert stopped.group(2) == os.path.join(train_dir, 'model.ckpt-%d' % step)
  assert tf.train.latest_checkpoint(train_dir) == stopped.group(2)
  assert _checkpoint_values(stopped.group(2))['global_step'] == step
  more = run_cli('train_image_classifier.py', *args,
                 '--max_number_of_steps=%d' % (step + 1))
  assert more.returncode == 0
  assert 'Resuming from %s' % stopped.group(2) in more.stderr


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(
    shapes_dir, tmp_path):
  train_dir = str(tmp_path / 'train')
  args = ['--dataset_name=shapes', '--dataset_dir=' + shapes_dir,
          '--train_dir=' + train_dir, '--optimizer=sgd'] + _LENET
  with tensorflow_log() as records:
    good = run_cli('train_image_classifier.py', *args,
                   '--learning_rate=0.001', '--max_number_of_steps=3')
  assert good.returncode == 0, good.stderr[-2000:]
  # AutoGraph is not asked to read the input functions (it cannot read a
  # multi-line lambda, and warns).
  assert not [r for r in records if 'AutoGraph' in r.getMessage()]
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


def _fine_tune_mobilenet(shapes_dir, train_dir, *flags):
  """Checkpoint values after one step of mobilenet_v1_025 at 64 px."""
  result = run_cli(
      'train_image_classifier.py', '--dataset_name=shapes',
      '--dataset_dir=' + shapes_dir, '--model_name=mobilenet_v1_025',
      '--train_image_size=64', '--batch_size=2', '--optimizer=sgd',
      '--batch_norm_decay=0.9', '--max_number_of_steps=1', '--seed=1',
      '--train_dir=' + train_dir, *flags)
  assert result.returncode == 0, result.stderr[-3000:]
  return _checkpoint_values(tf.train.latest_checkpoint(train_dir))


def _initialised_checkpoint(path, model_name, num_classes, size):
  """Saves a freshly initialised network; returns {name: value}."""
  from slimvision.nets import nets_factory
  with tf.Graph().as_default(), tf.Session() as session:
    network_fn = nets_factory.get_network_fn(model_name, num_classes,
                                             is_training=True)
    network_fn(tf.zeros([1, size, size, 3]))
    session.run(tf.global_variables_initializer())
    tf.train.Saver().save(session, path)
  return _checkpoint_values(path)


def test_fine_tuning_moves_frozen_batch_norm_statistics_unless_asked_not_to(
    shapes_dir, tmp_path):
  source = str(tmp_path / 'source' / 'model.ckpt')
  original = _initialised_checkpoint(source, 'mobilenet_v1_025', 6, 64)
  # TF-Slim's way to retrain the top: the last layer with batch norm and the
  # logits train; everything below is frozen.
  scopes = ('--trainable_scopes=MobilenetV1/Conv2d_13_pointwise,'
            'MobilenetV1/Logits')
  moved = _fine_tune_mobilenet(shapes_dir, str(tmp_path / 'slim'),
                               '--checkpoint_path=' + source, scopes)
  kept = _fine_tune_mobilenet(
      shapes_dir, str(tmp_path / 'frozen'),
      '--checkpoint_path=' + source, scopes, '--freeze_batch_norm_statistics')
  frozen_layer = 'MobilenetV1/Conv2d_0/'
  trained_layer = 'MobilenetV1/Conv2d_13_pointwise/'
  for tuned in (moved, kept):
    np.testing.assert_array_equal(tuned[frozen_layer + 'weights'],
                                  original[frozen_layer + 'weights'])
    assert not np.array_equal(tuned[trained_layer + 'weights'],
                              original[trained_layer + 'weights'])
    # The trained scopes' own statistics move either way.
    assert not np.array_equal(
        tuned[trained_layer + 'BatchNorm/moving_mean'],
        original[trained_layer + 'BatchNorm/moving_mean'])
  statistic = frozen_layer + 'BatchNorm/moving_mean'
  # TF-Slim's default: the frozen layer's statistics follow the new batches.
  assert np.max(np.abs(moved[statistic] - original[statistic])) > 1e-3
  np.testing.assert_array_equal(kept[statistic], original[statistic])
  np.testing.assert_array_equal(
      kept[frozen_layer + 'BatchNorm/moving_variance'],
      original[frozen_layer + 'BatchNorm/moving_variance'])


def test_ignore_missing_vars_with_a_disjoint_checkpoint_trains_from_scratch(
    two_class_dir, tmp_path):
  checkpoint = str(tmp_path / 'unrelated' / 'model.ckpt')
  with tf.Graph().as_default(), tf.Session() as session:
    tf.get_variable('Unrelated/weights', [3, 3])
    session.run(tf.global_variables_initializer())
    tf.train.Saver().save(session, checkpoint)
  args = ['--dataset_name=twoclass', '--dataset_dir=' + two_class_dir,
          '--checkpoint_path=' + checkpoint, '--max_number_of_steps=2'] + (
              _LENET)
  refused = run_cli('train_image_classifier.py', *args,
                    '--train_dir=' + str(tmp_path / 'refused'))
  assert refused.returncode == 2
  assert 'pass --ignore_missing_vars' in error_line(refused)
  train_dir = str(tmp_path / 'train')
  result = run_cli('train_image_classifier.py', *args, '--ignore_missing_vars',
                   '--train_dir=' + train_dir)
  assert result.returncode == 0, result.stderr[-3000:]
  assert ("Warning: checkpoint %s holds none of the model's 8 variables" %
          checkpoint) in result.stderr
  assert 'training from scratch' in result.stderr
  assert _step(tf.train.latest_checkpoint(train_dir)) == 2


def test_classic_transfer_learning_scopes_from_the_vww_checkpoint(
    two_class_dir, tmp_path):
  index = shared_path('checkpoints', 'mobilenet_v1_025_vww',
                      'model.ckpt-963849.index')
  checkpoint = index[:-len('.index')]
  train_dir = str(tmp_path / 'train')
  result = run_cli(
      'train_image_classifier.py', '--dataset_name=twoclass',
      '--dataset_dir=' + two_class_dir, '--model_name=mobilenet_v1_025',
      '--use_grayscale', '--train_image_size=96', '--batch_size=2',
      '--checkpoint_path=' + checkpoint,
      '--trainable_scopes=MobilenetV1/Logits,MobilenetV1/Predictions',
      '--max_number_of_steps=2', '--optimizer=sgd', '--learning_rate=0.1',
      '--train_dir=' + train_dir)
  assert result.returncode == 0, result.stderr[-3000:]
  assert ("Warning: --trainable_scopes: 'MobilenetV1/Predictions' matches no "
          "trainable variable") in result.stderr
  original = _checkpoint_values(checkpoint)
  final = _checkpoint_values(tf.train.latest_checkpoint(train_dir))
  body = 'MobilenetV1/Conv2d_0/weights'
  assert final[body].shape[2] == 1  # Grayscale, as the VWW model.
  np.testing.assert_array_equal(final[body], original[body])
  head = 'MobilenetV1/Logits/Conv2d_1c_1x1/weights'
  assert not np.array_equal(final[head], original[head])


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
