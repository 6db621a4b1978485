"""One run per train_dir (the lock) and clean-up of interrupted saves."""

import os
import re
import signal
import subprocess

import pytest
import tensorflow.compat.v1 as tf

from conftest import error_line, run_cli
import processes
from slimvision.core.errors import UserError
from slimvision.engines import train_dir

_TRAIN = ['--dataset_name=shapes', '--model_name=lenet',
          '--preprocessing_name=lenet', '--batch_size=4',
          '--max_number_of_steps=2']


def test_a_second_run_on_a_locked_train_dir_refuses_and_touches_nothing(
    shapes_dir, tmp_path):
  folder = str(tmp_path / 'train')
  with train_dir.lock(folder):
    before = sorted(os.listdir(folder))
    result = run_cli('train_image_classifier.py', '--dataset_dir=' +
                     shapes_dir, '--train_dir=' + folder, *_TRAIN)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    # The command's first line (it started), then the one error line.
    assert len(lines) == 2 and 'starting' in lines[0], lines
    assert lines[1].startswith('error: ') and (
        'is in use by another training run (pid %d on host' % os.getpid()
        in lines[1])
    assert sorted(os.listdir(folder)) == before == [train_dir.LOCK_FILENAME]
  # Released: the run goes ahead.
  result = run_cli('train_image_classifier.py', '--dataset_dir=' +
                   shapes_dir, '--train_dir=' + folder, *_TRAIN)
  assert result.returncode == 0, result.stderr[-2000:]
  assert tf.train.latest_checkpoint(folder).endswith('model.ckpt-2')


_HOLD = r'''
import sys, time
from slimvision.engines import train_dir
train_dir.lock(sys.argv[1])
print('locked', flush=True)
time.sleep(600)
'''


def test_the_lock_of_a_killed_run_is_free(tmp_path):
  folder = str(tmp_path / 'train')
  holder = processes.start(_HOLD, [folder], stdout=subprocess.PIPE,
                           program=True)
  try:
    assert holder.stdout.readline().strip() == 'locked'
    with pytest.raises(UserError, match='pid %d on host' % holder.pid):
      train_dir.lock(folder)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
  finally:
    if holder.poll() is None:
      holder.kill()
  train_dir.lock(folder).release()  # The kernel dropped the dead run's lock.


def test_a_train_dir_that_is_a_file_is_one_line(shapes_dir, tmp_path):
  path = tmp_path / 'file'
  path.write_text('not a folder')
  result = run_cli('train_image_classifier.py', '--dataset_dir=' + shapes_dir,
                   '--train_dir=' + str(path), *_TRAIN)
  assert result.returncode == 2
  assert error_line(result) == ('error: --train_dir %s is a file, not a '
                                'folder' % path)


def test_partial_saves_are_removed_at_start(shapes_dir, tmp_path):
  folder = tmp_path / 'train'
  folder.mkdir()
  leftovers = ['model.ckpt-7.data-00000-of-00001.tempstate8713',
               'model.ckpt-7.index.tempstate2']
  for name in leftovers:
    (folder / name).write_bytes(b'\0' * 64)
  (folder / 'notes.txt').write_text('mine')
  result = run_cli('train_image_classifier.py', '--dataset_dir=' + shapes_dir,
                   '--train_dir=' + str(folder), *_TRAIN)
  assert result.returncode == 0, result.stderr[-2000:]
  names = os.listdir(folder)
  assert not [n for n in names if 'tempstate' in n]
  assert 'notes.txt' in names and 'model.ckpt-2.index' in names
  assert 'Removed 2 file(s) of interrupted checkpoint saves' in result.stderr


def test_the_cleaner_runs_after_each_save(tmp_path):
  (tmp_path / 'model.ckpt-3.index.tempstate5').write_bytes(b'x')
  train_dir.PartialSaveCleaner(str(tmp_path)).after_save(None, 3)
  assert os.listdir(tmp_path) == []


def _absolute_state(folder, steps, where):
  """Gives `folder` the checkpoint state file an older Saver wrote in
  `where`: absolute paths."""
  tf.train.update_checkpoint_state(
      str(folder), os.path.join(where, 'model.ckpt-%d' % steps[-1]),
      [os.path.join(where, 'model.ckpt-%d' % s) for s in steps])


def test_a_copied_train_dir_names_its_own_checkpoints(tmp_path):
  for step in (5, 7):  # Its copies of the original's 5 and 7, not of 3.
    (tmp_path / ('model.ckpt-%d.index' % step)).write_bytes(b'')
  _absolute_state(tmp_path, [3, 5, 7], '/elsewhere/train')
  assert train_dir.repair_checkpoint_state(str(tmp_path))
  state = tf.train.get_checkpoint_state(str(tmp_path))
  assert state.model_checkpoint_path == str(tmp_path / 'model.ckpt-7')
  assert list(state.all_model_checkpoint_paths) == [
      str(tmp_path / 'model.ckpt-5'), str(tmp_path / 'model.ckpt-7')]
  # Stored relative, so it survives the next copy too.
  assert 'model_checkpoint_path: "model.ckpt-7"' in (
      tmp_path / 'checkpoint').read_text()
  assert not train_dir.repair_checkpoint_state(str(tmp_path))


def test_a_train_dir_reached_through_a_link_is_not_a_copy(tmp_path):
  real, link = tmp_path / 'real', tmp_path / 'link'
  real.mkdir()
  link.symlink_to(real)
  (real / 'model.ckpt-3.index').write_bytes(b'')
  _absolute_state(real, [3], str(real))
  assert not train_dir.repair_checkpoint_state(str(link))
  assert 'model_checkpoint_path: "%s"' % (real / 'model.ckpt-3') in (
      real / 'checkpoint').read_text()


def test_training_in_a_copy_leaves_the_original_alone(shapes_dir, tmp_path):
  original, copy = tmp_path / 'original', tmp_path / 'copy'
  args = ['--dataset_dir=' + shapes_dir, '--save_interval_secs=1'] + _TRAIN
  result = run_cli('train_image_classifier.py', '--train_dir=' + str(original),
                   *args)
  assert result.returncode == 0, result.stderr[-2000:]
  # As a Saver without save_relative_paths (this project's before, TF-Slim's)
  # leaves it; then copy the folder.
  _absolute_state(original, [0, 2], str(original))
  import shutil  # pylint: disable=g-import-not-at-top
  shutil.copytree(original, copy)
  before = sorted(os.listdir(original))
  result = run_cli('train_image_classifier.py', '--train_dir=' + str(copy),
                   *[a.replace('--max_number_of_steps=2',
                               '--max_number_of_steps=9') for a in args])
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'Resuming from %s' % (copy / 'model.ckpt-2') in result.stderr
  assert 'was copied or moved' in result.stderr
  assert sorted(os.listdir(original)) == before
  assert tf.train.latest_checkpoint(str(original)) == str(
      original / 'model.ckpt-2')
  assert tf.train.latest_checkpoint(str(copy)) == str(copy / 'model.ckpt-9')


def test_resuming_with_another_optimizer_is_refused_and_keeps_the_record(
    shapes_dir, tmp_path):
  args = ['--dataset_dir=' + shapes_dir, '--train_dir=' + str(tmp_path)]
  assert run_cli('train_image_classifier.py', *args + _TRAIN).returncode == 0
  record = (tmp_path / 'train_config.json').read_text()
  result = run_cli('train_image_classifier.py', '--optimizer=adam',
                   *args + [a.replace('=2', '=3') for a in _TRAIN])
  assert result.returncode == 2
  assert error_line(result).startswith(
      'error: checkpoint %s lacks 18 of the model\'s 27 variables, e.g. '
      'LeNet/conv1/biases/Adam' % (tmp_path / 'model.ckpt-2'))
  assert 'the run that wrote it in --train_dir %s had another model, ' \
      'optimizer' % tmp_path in error_line(result)
  assert (tmp_path / 'train_config.json').read_text() == record


@pytest.mark.parametrize('content', [None, b'', b'garbage {{{\n'])
def test_a_missing_or_unreadable_state_file_is_rebuilt_from_the_names(
    tmp_path, content):
  for step in (2, 10, 7, 1, 3, 4):
    (tmp_path / ('model.ckpt-%d.index' % step)).write_bytes(b'')
  if content is not None:
    (tmp_path / 'checkpoint').write_bytes(content)
  assert train_dir.repair_checkpoint_state(str(tmp_path))
  state = tf.train.get_checkpoint_state(str(tmp_path))
  assert state.model_checkpoint_path == str(tmp_path / 'model.ckpt-10')
  # The newest 5 by step; model.ckpt-1 is left alone, and out of the
  # Saver's rotation.
  assert list(state.all_model_checkpoint_paths) == [
      str(tmp_path / ('model.ckpt-%d' % step)) for step in (2, 3, 4, 7, 10)]
  assert not train_dir.repair_checkpoint_state(str(tmp_path))


def test_an_empty_train_dir_needs_no_state_file(tmp_path):
  assert not train_dir.repair_checkpoint_state(str(tmp_path))
  assert not (tmp_path / 'checkpoint').exists()


def test_resuming_past_a_truncated_checkpoint_or_a_lost_state_file(
    shapes_dir, tmp_path):
  args = ['--dataset_dir=' + shapes_dir, '--train_dir=' + str(tmp_path)]
  assert run_cli('train_image_classifier.py', *args + _TRAIN).returncode == 0
  # The run saved steps 0 and 2; a crash or a full disk cut step 2's data.
  newest = tmp_path / 'model.ckpt-2'
  with open(str(newest) + '.data-00000-of-00001', 'r+b') as f:
    f.truncate(1000)
  result = run_cli('train_image_classifier.py',
                   *args + [a.replace('=2', '=3') for a in _TRAIN])
  assert result.returncode == 0, result.stderr[-2000:]
  assert ('Warning: checkpoint %s cannot be read (a truncated or corrupt '
          'file?): tensor ' % newest) in result.stderr
  assert 'resuming from the older %s instead' % (
      tmp_path / 'model.ckpt-0') in result.stderr
  assert 'Resuming from %s' % (tmp_path / 'model.ckpt-0') in result.stderr
  assert re.search(r'global step 3: .* 100%', result.stderr)
  assert tf.train.latest_checkpoint(str(tmp_path)) == str(
      tmp_path / 'model.ckpt-3')
  reader = tf.train.load_checkpoint(str(tmp_path / 'model.ckpt-3'))
  assert reader.get_tensor('global_step') == 3
  # Without the state file, TensorFlow would train afresh and overwrite
  # the checkpoints as it reached their steps.
  os.remove(str(tmp_path / 'checkpoint'))
  result = run_cli('train_image_classifier.py',
                   *args + [a.replace('=2', '=4') for a in _TRAIN])
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'the checkpoint state file of %s was missing' % tmp_path in (
      result.stderr)
  assert 'Resuming from %s' % (tmp_path / 'model.ckpt-3') in result.stderr
  assert tf.train.latest_checkpoint(str(tmp_path)) == str(
      tmp_path / 'model.ckpt-4')


def test_resuming_when_no_checkpoint_reads_is_one_line(shapes_dir, tmp_path):
  args = ['--dataset_dir=' + shapes_dir, '--train_dir=' + str(tmp_path)]
  assert run_cli('train_image_classifier.py', *args + _TRAIN).returncode == 0
  for step in (0, 2):
    with open(str(tmp_path / ('model.ckpt-%d.data-00000-of-00001' % step)),
              'r+b') as f:
      f.truncate(1000)
  record = (tmp_path / 'train_config.json').read_text()
  result = run_cli('train_image_classifier.py',
                   *args + [a.replace('=2', '=3') for a in _TRAIN])
  assert result.returncode == 2
  assert error_line(result).startswith(
      'error: --train_dir %s: none of its checkpoints can be read '
      '(checkpoint %s cannot be read' % (tmp_path, tmp_path / 'model.ckpt-2'))
  assert error_line(result).endswith(
      'move them aside to train from scratch, or use a new --train_dir')
  assert (tmp_path / 'train_config.json').read_text() == record


def test_a_full_disk_stops_with_one_line_and_keeps_the_checkpoints(
    shapes_dir, tmp_path, monkeypatch):
  save = tf.train.Saver.save
  calls = []

  def save_until_the_disk_fills(saver, session, prefix, *args, **kwargs):
    calls.append(prefix)
    if len(calls) == 1:  # The step-0 checkpoint fits.
      return save(saver, session, prefix, *args, **kwargs)
    partial = str(tmp_path / 'model.ckpt-2.data-00000-of-00001.tempstate77')
    with open(partial, 'wb') as f:
      f.write(b'half a checkpoint')
    raise tf.errors.ResourceExhaustedError(
        None, None, 'Graph execution error:\n\n%s; No space left on device'
        % partial)

  monkeypatch.setattr(tf.train.Saver, 'save', save_until_the_disk_fills)
  args = ['--dataset_dir=' + shapes_dir, '--train_dir=' + str(tmp_path)]
  result = run_cli('train_image_classifier.py', *args + _TRAIN)
  assert result.returncode == 2
  assert error_line(result) == (
      'error: out of disk space: %s/model.ckpt-2.data-00000-of-00001.'
      'tempstate77; No space left on device; --train_dir %s keeps its '
      'checkpoints up to model.ckpt-0: free some space and run the same '
      'command to resume from it' % (tmp_path, tmp_path))
  assert not list(tmp_path.glob('*tempstate*'))
  monkeypatch.setattr(tf.train.Saver, 'save', save)
  result = run_cli('train_image_classifier.py', *args + _TRAIN)
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'Resuming from %s' % (tmp_path / 'model.ckpt-0') in result.stderr


def test_a_run_refused_at_its_checks_leaves_no_trace(shapes_dir, tmp_path):
  refused = ['--dataset_dir=' + shapes_dir, '--train_image_size=2'] + _TRAIN
  new = tmp_path / 'new' / 'train'
  result = run_cli('train_image_classifier.py', '--train_dir=' + str(new),
                   *refused)
  assert result.returncode == 2, result.stderr[-2000:]
  assert 'too small for lenet' in error_line(result)
  # The folder it created goes; its parent, also created, stays (harmless).
  assert not new.exists()
  kept = tmp_path / 'kept'
  kept.mkdir()
  (kept / 'notes.txt').write_text('mine')
  result = run_cli('train_image_classifier.py', '--train_dir=' + str(kept),
                   *refused)
  assert result.returncode == 2
  assert sorted(os.listdir(kept)) == ['notes.txt']


def _records(folder):
  """The train_dir's bookkeeping files, as bytes."""
  return {name: (folder / name).read_bytes()
          for name in ('train_config.json', 'checkpoint')}


def test_a_run_failing_mid_run_leaves_the_records_as_they_were(
    shapes_dir, tmp_path):
  import dataset_records  # pylint: disable=g-import-not-at-top
  import shutil  # pylint: disable=g-import-not-at-top
  data, train = tmp_path / 'data', tmp_path / 'train'
  shutil.copytree(shapes_dir, data)
  args = ['--dataset_dir=%s' % data, '--train_dir=%s' % train]
  assert run_cli('train_image_classifier.py', *args + _TRAIN).returncode == 0
  before = _records(train)
  # Each shard holds 24 records; the resumed run meets the cut after its
  # first steps (a batch of 4, 40 steps: several epochs). Where in the
  # shuffled stream the cut comes is random; seed 3 puts it after step 3.
  # Without the decoded-image cache, whose shuffle buffer would read the
  # whole split, and meet the cut, before the first step.
  dataset_records.truncate_in_record(
      str(data / 'shapes_train_00001-of-00002.tfrecord'), 20)
  result = run_cli('train_image_classifier.py', '--log_every_n_steps=1',
                   '--image_cache_mb=0', '--seed=3',
                   *args + [a.replace('=2', '=40') for a in _TRAIN])
  assert result.returncode == 2, result.stderr[-2000:]
  assert 'shapes_train_00001-of-00002.tfrecord record 20' in error_line(
      result), error_line(result)
  assert 'step 3' in result.stderr  # It trained before it met the cut.
  assert _records(train) == before
  assert sorted(p for p in os.listdir(train) if '.index' in p) == [
      'model.ckpt-0.index', 'model.ckpt-2.index']


def test_the_records_keep_every_run_and_every_checkpoint_on_disk(
    shapes_dir, tmp_path):
  import json  # pylint: disable=g-import-not-at-top
  args = ['--dataset_dir=' + shapes_dir, '--train_dir=' + str(tmp_path)]
  assert run_cli('train_image_classifier.py', *args + _TRAIN).returncode == 0
  result = run_cli('train_image_classifier.py', '--learning_rate=0.02',
                   *args + [a.replace('=2', '=4') for a in _TRAIN])
  assert result.returncode == 0, result.stderr[-2000:]
  with open(tmp_path / 'train_config.json') as f:
    record = json.load(f)
  assert record['flags']['max_number_of_steps'] == 4
  assert record['flags']['learning_rate'] == 0.02
  assert [run['flags']['max_number_of_steps'] for run in record['history']
          ] == [2]
  assert record['history'][0]['flags']['learning_rate'] == 0.01
  assert 'history' not in record['history'][0]
  # The resumed run's Saver knew the first run's checkpoints: the state
  # names each one on disk, model.ckpt-0 included.
  state = tf.train.get_checkpoint_state(str(tmp_path))
  assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == [
      'model.ckpt-0', 'model.ckpt-2', 'model.ckpt-4']
