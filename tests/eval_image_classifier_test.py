"""eval_image_classifier.py: exact counts and scores, moving averages, loop.

The checkpoints here are written by the test: a cifarnet whose logits layer
has zero weights, so its logits are its biases for every image and the
predictions (hence accuracy and recall@5) are known in advance.
"""

import os
import queue
import re
import subprocess
import threading
import time

import numpy as np
from PIL import Image
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from conftest import error_line, run_cli, shared_path
import processes
from slimvision.engines import inference
from slimvision.datasets import image_folder

NUM_CLASSES = 7
# Validation images per class: 10 in all.
VALIDATION_COUNTS = (3, 2, 1, 1, 1, 1, 1)


def _write_image_folder(folder, train_counts, validation_counts, seed=0,
                        size=24):
  rng = np.random.RandomState(seed)
  for split, counts in (('train', train_counts),
                        ('validation', validation_counts)):
    for label, count in enumerate(counts):
      class_dir = os.path.join(folder, split, 'class%d' % label)
      os.makedirs(class_dir)
      for i in range(count):
        Image.fromarray(rng.randint(0, 256, (size, size, 3)).astype(
            np.uint8)).save(os.path.join(class_dir, '%02d.png' % i))


@pytest.fixture(scope='module')
def ten_examples(tmp_path_factory):
  """An image-folder dataset `ten` of 7 classes, 10 validation images."""
  root = tmp_path_factory.mktemp('ten')
  _write_image_folder(str(root / 'source'), [1] * NUM_CLASSES,
                      VALIDATION_COUNTS)
  dataset_dir = str(root / 'data')
  image_folder.convert('ten', str(root / 'source'), dataset_dir,
                       num_shards=3, log=lambda *_: None)
  return dataset_dir


def write_bias_checkpoint(prefix, biases, shadow_biases=None, step=0,
                          num_classes=NUM_CLASSES):
  """A cifarnet checkpoint whose logits are `biases` for every image.

  With `shadow_biases`, it also holds ExponentialMovingAverage shadows of
  every model variable, equal to the variables except the logits biases,
  whose shadow is `shadow_biases`. Returns the checkpoint path.
  """
  with tf.Graph().as_default(), tf.Session() as session:
    global_step = tf.train.get_or_create_global_step()
    inference.build_logits_and_probabilities(tf.zeros([1, 32, 32, 3]),
                                             'cifarnet', num_classes)
    model_variables = slim.get_model_variables()
    if shadow_biases is not None:
      averages = tf.train.ExponentialMovingAverage(0.99, global_step)
      averages.apply(model_variables)
    session.run(tf.global_variables_initializer())
    by_name = {v.op.name: v for v in tf.global_variables()}
    values = {'CifarNet/logits/weights': np.zeros([192, num_classes]),
              'CifarNet/logits/biases': biases,
              'global_step': step}
    if shadow_biases is not None:
      for variable in model_variables:
        values[variable.op.name + '/ExponentialMovingAverage'] = session.run(
            variable)
      values['CifarNet/logits/weights/ExponentialMovingAverage'] = (
          np.zeros([192, num_classes]))
      values['CifarNet/logits/biases/ExponentialMovingAverage'] = (
          shadow_biases)
    for name, value in values.items():
      by_name[name].load(value, session)
    return tf.train.Saver().save(session, prefix, global_step=step)


def _eval(dataset_dir, checkpoint, eval_dir, *extra):
  return run_cli(
      'eval_image_classifier.py', '--dataset_name=ten',
      '--dataset_split_name=validation', '--dataset_dir=' + dataset_dir,
      '--model_name=cifarnet', '--checkpoint_path=' + checkpoint,
      '--eval_dir=' + eval_dir, *extra)


def _metric(stdout, name):
  return float(re.search(r'^%s: ([0-9.]+)$' % name, stdout, re.M).group(1))


# Ranks of the classes by bias, highest first: class1, class2, class0, 3, 4,
# then 5 and 6 outside the top 5.
BIASES = [3.0, 5.0, 4.0, 2.0, 1.0, 0.0, -1.0]


def test_ten_examples_in_batches_of_four_with_known_scores(ten_examples,
                                                           tmp_path):
  checkpoint = write_bias_checkpoint(str(tmp_path / 'model.ckpt'), BIASES,
                                     step=7)
  result = _eval(ten_examples, checkpoint, str(tmp_path / 'eval'),
                 '--batch_size=4')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Scored 10 examples' in result.stdout
  assert 'Scored 10 examples in 3 batches' in result.stderr
  # Every image is predicted class1 (2 of the 10); the top 5 classes hold
  # 3 + 2 + 1 + 1 + 1 = 8 of the labels.
  assert _metric(result.stdout, 'Accuracy') == 0.2
  assert _metric(result.stdout, 'Recall_5') == 0.8
  # research/slim's lines, which scripts parse from its logs.
  assert re.search(r'eval/Accuracy\[0\.2\]$', result.stderr, re.M)
  assert re.search(r'eval/Recall_5\[0\.8\]$', result.stderr, re.M)
  # Per class: precision, recall (accuracy), F1. class1 is predicted for
  # all 10 (precision 0.2, recall 1); class0 is never predicted.
  assert re.search(r'^  class1 +0\.2000 +1\.0000 +0\.3333  \(2 examples\)$',
                   result.stdout, re.M)
  assert re.search(r'^  class0 +n/a +0\.0000 +n/a  \(3 examples\)$',
                   result.stdout, re.M)
  # 10 of 10 predicted as one class over 7 true classes: the one-class
  # warning, for a network without batch norm (CifarNet), so without the
  # stale-statistics advice.
  assert "10 of 10 examples (100%) were predicted as 'class1'. The model " \
      'does not tell the classes apart yet' in result.stderr
  assert '--batch_norm_decay' not in result.stderr
  assert '(step 7)' in result.stderr


def test_central_crop_fraction_reaches_the_inception_preprocessing(
    ten_examples, tmp_path, monkeypatch):
  from slimvision.preprocessing import inception_preprocessing  # pylint: disable=g-import-not-at-top
  original = inception_preprocessing.preprocess_for_eval
  fractions = []

  def recording(image, height, width, **kwargs):
    fractions.append(kwargs.get('central_fraction'))
    return original(image, height, width, **kwargs)

  monkeypatch.setattr(inception_preprocessing, 'preprocess_for_eval',
                      recording)
  checkpoint = write_bias_checkpoint(str(tmp_path / 'model.ckpt'), BIASES)
  result = _eval(ten_examples, checkpoint, str(tmp_path / 'eval'),
                 '--preprocessing_name=inception',
                 '--central_crop_fraction=0.5')
  assert result.returncode == 0, result.stderr[-3000:]
  assert fractions and set(fractions) == {0.5}
  assert _metric(result.stdout, 'Accuracy') == 0.2
  for fraction, message in (
      ('0.5', '--central_crop_fraction applies to the inception '
              'preprocessing; cifarnet uses the cifarnet preprocessing'),
      ('0', '--central_crop_fraction must be in (0, 1], got 0'),
      ('1.5', '--central_crop_fraction must be in (0, 1], got 1.5')):
    refused = _eval(ten_examples, checkpoint, str(tmp_path / 'eval2'),
                    '--central_crop_fraction=' + fraction)
    assert refused.returncode == 2
    assert error_line(refused) == 'error: ' + message


def test_moving_average_decay_restores_the_shadows(ten_examples, tmp_path):
  # The raw weights predict class0 (3 of 10); the averages predict class6
  # (1 of 10), with class0 and class1 outside their top 5 (recall 5 of 10);
  # the raw top 5 holds 3+2+1+1+1 = 8.
  shadows = [-2.0, -1.0, 1.0, 2.0, 3.0, 4.0, 5.0]
  raw = [5.0, 4.0, 3.0, 2.0, 1.0, 0.0, -1.0]
  checkpoint = write_bias_checkpoint(str(tmp_path / 'model.ckpt'), raw,
                                     shadow_biases=shadows, step=3)
  plain = _eval(ten_examples, checkpoint, str(tmp_path / 'eval'),
                '--batch_size=4')
  assert plain.returncode == 0, plain.stderr[-3000:]
  assert _metric(plain.stdout, 'Accuracy') == 0.3
  assert _metric(plain.stdout, 'Recall_5') == 0.8
  averaged = _eval(ten_examples, checkpoint, str(tmp_path / 'eval'),
                   '--batch_size=4', '--moving_average_decay=0.99')
  assert averaged.returncode == 0, averaged.stderr[-3000:]
  assert _metric(averaged.stdout, 'Accuracy') == 0.1
  assert _metric(averaged.stdout, 'Recall_5') == 0.5


def test_moving_average_decay_without_averages_is_one_clear_line(
    ten_examples, tmp_path):
  checkpoint = write_bias_checkpoint(str(tmp_path / 'model.ckpt'), BIASES)
  result = _eval(ten_examples, checkpoint, str(tmp_path / 'eval'),
                 '--moving_average_decay=0.99')
  assert result.returncode == 2
  assert 'trained with --moving_average_decay?' in result.stderr


class _LineReader(object):
  """Collects a subprocess's stderr lines from a thread."""

  def __init__(self, stream):
    self.lines = []
    self._queue = queue.Queue()
    self._thread = threading.Thread(target=self._read, args=(stream,),
                                    daemon=True)
    self._thread.start()

  def _read(self, stream):
    for line in stream:
      self._queue.put(line)
    self._queue.put(None)

  def wait_for(self, pattern, timeout):
    """Reads lines until one matches `pattern`; True if one did."""
    deadline = time.time() + timeout
    while time.time() < deadline:
      try:
        line = self._queue.get(timeout=max(0.01, deadline - time.time()))
      except queue.Empty:
        break
      if line is None:
        return False
      self.lines.append(line)
      if re.search(pattern, line):
        return True
    return False

  def drain(self):
    self._thread.join(timeout=60)
    while not self._queue.empty():
      line = self._queue.get()
      if line is not None:
        self.lines.append(line)


def _cut_data_file(checkpoint):
  """Truncates the checkpoint's data file to 1,000 bytes, as a full disk or
  a crash during a copy can leave it."""
  with open(checkpoint + '.data-00000-of-00001', 'r+b') as f:
    f.truncate(1000)


def test_a_truncated_checkpoint_is_one_line_naming_a_tensor(ten_examples,
                                                           tmp_path):
  checkpoint = write_bias_checkpoint(str(tmp_path / 'model.ckpt'), BIASES,
                                     step=7)
  _cut_data_file(checkpoint)
  result = _eval(ten_examples, checkpoint, str(tmp_path / 'eval'))
  assert result.returncode == 2
  assert result.stdout == ''
  assert error_line(result).startswith(
      'error: checkpoint %s cannot be read (a truncated or corrupt file?): '
      'tensor CifarNet/' % checkpoint)


def test_loop_mode_skips_an_unreadable_checkpoint_and_fails_if_none_read(
    ten_examples, tmp_path):
  train_dir = tmp_path / 'train'
  train_dir.mkdir()
  _cut_data_file(write_bias_checkpoint(str(train_dir / 'model.ckpt'), BIASES,
                                       step=1))
  loop = ['--batch_size=4', '--eval_interval_secs=1', '--eval_timeout_secs=1']
  result = _eval(ten_examples, str(train_dir), str(tmp_path / 'eval'), *loop)
  assert result.returncode == 2
  assert 'Warning: skipping it: checkpoint %s cannot be read' % (
      train_dir / 'model.ckpt-1') in result.stderr
  assert error_line(result) == (
      'error: no checkpoint evaluated: 1 unreadable, none readable in '
      '--checkpoint_path %s within --eval_timeout_secs=1' % train_dir)
  # A readable checkpoint after it is evaluated; the run succeeds.
  write_bias_checkpoint(str(train_dir / 'model.ckpt'), BIASES, step=2)
  result = _eval(ten_examples, str(train_dir), str(tmp_path / 'eval'), *loop)
  assert result.returncode == 0, result.stderr[-3000:]
  assert _metric(result.stdout, 'Accuracy') == 0.2
  assert 'evaluated 1 checkpoint(s)' in result.stderr


def test_loop_mode_evaluates_each_new_checkpoint_once(ten_examples,
                                                      tmp_path):
  train_dir = str(tmp_path / 'train')
  os.makedirs(train_dir)
  prefix = os.path.join(train_dir, 'model.ckpt')
  write_bias_checkpoint(prefix, BIASES, step=1)
  stdout_path = str(tmp_path / 'stdout.txt')
  stdout_file = open(stdout_path, 'w')
  process = processes.start(
      processes.script('eval_image_classifier.py'),
      ['--dataset_name=ten', '--dataset_split_name=validation',
       '--dataset_dir=' + ten_examples, '--model_name=cifarnet',
       '--checkpoint_path=' + train_dir, '--eval_dir=' + str(tmp_path / 'ev'),
       '--batch_size=4', '--eval_interval_secs=1', '--eval_timeout_secs=6'],
      stdout=stdout_file, stderr=subprocess.PIPE)
  reader = _LineReader(process.stderr)
  try:
    # Each checkpoint is written once the previous one is being evaluated,
    # as a training run would save them.
    for step in (2, 3):
      assert reader.wait_for(r'Evaluating .*\(step %d\)' % (step - 1), 240), (
          ''.join(reader.lines[-30:]))
      write_bias_checkpoint(prefix, BIASES, step=step)
    process.wait(timeout=240)
  finally:
    if process.poll() is None:
      process.kill()
    stdout_file.close()
  reader.drain()
  with open(stdout_path) as f:
    stdout = f.read()
  assert process.returncode == 0, ''.join(reader.lines[-30:])
  evaluated = [int(m.group(1)) for m in (
      re.search(r'Evaluating .*model\.ckpt-\d+ \(step (\d+)\)', line)
      for line in reader.lines) if m]
  assert evaluated == [1, 2, 3]
  assert stdout.count('Scored 10 examples') == 3
  assert any('evaluated 3 checkpoint(s)' in line for line in reader.lines)


def test_vww_checkpoint_evaluates_a_small_grayscale_set(tmp_path):
  index = shared_path('checkpoints', 'mobilenet_v1_025_vww',
                      'model.ckpt-963849.index')
  checkpoint = index[:-len('.index')]
  _write_image_folder(str(tmp_path / 'source'), [1, 1], [3, 2], size=64)
  dataset_dir = str(tmp_path / 'data')
  image_folder.convert('persons', str(tmp_path / 'source'), dataset_dir,
                       num_shards=1, log=lambda *_: None)
  result = run_cli(
      'eval_image_classifier.py', '--dataset_name=persons',
      '--dataset_split_name=validation', '--dataset_dir=' + dataset_dir,
      '--model_name=mobilenet_v1_025', '--checkpoint_path=' + checkpoint,
      '--eval_dir=' + str(tmp_path / 'eval'), '--batch_size=2',
      '--use_grayscale', '--moving_average_decay=0.9999',
      '--eval_image_size=96')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Scored 5 examples' in result.stdout
  assert '(step 963849)' in result.stderr
  accuracy = _metric(result.stdout, 'Accuracy')
  assert accuracy in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
  assert _metric(result.stdout, 'Recall_2') == 1.0
