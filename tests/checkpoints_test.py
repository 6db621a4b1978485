"""Checkpoints that cannot be read: named by tensor, and skipped on resume."""

import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from slimvision.engines import checkpoints


def _save(folder, steps):
  """Checkpoints model.ckpt-<step> of two variables (a: 4 floats, b: 1000
  floats holding the step) in `folder`, through one Saver as training
  writes them."""
  with tf.Graph().as_default():
    tf.Variable(np.arange(4, dtype=np.float32), name='a')
    b = tf.Variable(np.zeros(1000, np.float32), name='b')
    saver = tf.train.Saver(max_to_keep=5, save_relative_paths=True)
    with tf.Session() as session:
      session.run(tf.global_variables_initializer())
      for step in steps:
        b.load(np.full(1000, step, np.float32), session)
        saver.save(session, os.path.join(str(folder), 'model.ckpt'),
                   global_step=step)


def _data_file(folder, step):
  return os.path.join(str(folder),
                      'model.ckpt-%d.data-00000-of-00001' % step)


def _truncate(path, size):
  with open(path, 'r+b') as f:
    f.truncate(size)


def _flip_byte(path, offset):
  with open(path, 'r+b') as f:
    f.seek(offset)
    byte = f.read(1)
    f.seek(offset)
    f.write(bytes([byte[0] ^ 0xFF]))


def test_a_sound_checkpoint_reads(tmp_path):
  _save(tmp_path, [1])
  checkpoints.check_readable(str(tmp_path / 'model.ckpt-1'))
  checkpoints.check_readable(str(tmp_path / 'model.ckpt-1'), ['a', 'b'])


def test_a_truncated_data_file_names_the_tensor(tmp_path):
  _save(tmp_path, [1])
  # 'a' (16 bytes) is stored first, then 'b'; cut into 'b'.
  _truncate(_data_file(tmp_path, 1), 100)
  path = str(tmp_path / 'model.ckpt-1')
  checkpoints.check_readable(path, ['a'])  # Only what is asked for.
  with pytest.raises(checkpoints.UnreadableCheckpoint) as error:
    checkpoints.check_readable(path)
  assert str(error.value) == (
      'checkpoint %s cannot be read (a truncated or corrupt file?): tensor '
      'b: Read less bytes than requested' % path)


def test_a_flipped_byte_fails_the_tensors_checksum(tmp_path):
  _save(tmp_path, [1])
  _flip_byte(_data_file(tmp_path, 1), 16 + 500)
  with pytest.raises(checkpoints.UnreadableCheckpoint,
                     match='tensor b: .*Checksum does not match'):
    checkpoints.check_readable(str(tmp_path / 'model.ckpt-1'))


def test_a_cut_index_is_unreadable(tmp_path):
  _save(tmp_path, [1])
  _truncate(str(tmp_path / 'model.ckpt-1.index'), 10)
  with pytest.raises(checkpoints.UnreadableCheckpoint,
                     match='model.ckpt-1 cannot be read: .*too short'):
    checkpoints.check_readable(str(tmp_path / 'model.ckpt-1'))


def test_check_fits_reads_the_tensors_it_restores(tmp_path):
  _save(tmp_path, [1])
  _truncate(_data_file(tmp_path, 1), 100)
  path = str(tmp_path / 'model.ckpt-1')
  with tf.Graph().as_default():
    a = tf.Variable(np.zeros(4, np.float32), name='a')
    b = tf.Variable(np.zeros(1000, np.float32), name='b')
    checkpoints.check_fits(path, {'a': a})
    with pytest.raises(checkpoints.UnreadableCheckpoint, match='tensor b'):
      checkpoints.check_fits(path, {'a': a, 'b': b})


def test_resume_takes_the_newest_checkpoint_that_reads(tmp_path, caplog):
  _save(tmp_path, [1, 2, 3])
  assert checkpoints.latest_readable_in_dir(str(tmp_path)) == str(
      tmp_path / 'model.ckpt-3')
  _truncate(_data_file(tmp_path, 3), 100)
  _flip_byte(_data_file(tmp_path, 2), 16 + 500)
  assert checkpoints.latest_readable_in_dir(str(tmp_path)) == str(
      tmp_path / 'model.ckpt-1')
  warning = caplog.text
  assert 'model.ckpt-3 cannot be read' in warning
  assert 'model.ckpt-2 cannot be read' in warning
  assert 'resuming from the older %s instead' % (
      tmp_path / 'model.ckpt-1') in warning


def test_resume_refuses_when_no_checkpoint_reads(tmp_path):
  _save(tmp_path, [1, 2])
  for step in (1, 2):
    _truncate(_data_file(tmp_path, step), 100)
  with pytest.raises(checkpoints.UnreadableCheckpoint,
                     match=r'--train_dir %s: none of its checkpoints can be '
                     r'read \(checkpoint .*model.ckpt-2 .*; checkpoint '
                     r'.*model.ckpt-1 .*\); move them aside' % tmp_path):
    checkpoints.latest_readable_in_dir(str(tmp_path))


def test_a_folder_without_checkpoints_has_none(tmp_path, caplog):
  assert checkpoints.latest_readable_in_dir(str(tmp_path)) is None
  assert caplog.text == ''


def test_without_a_readable_state_file_the_newest_by_name(tmp_path, caplog):
  _save(tmp_path, [1, 12, 3])
  (tmp_path / 'checkpoint').write_text('garbage {{{')
  assert checkpoints.latest_in_dir(str(tmp_path)) == str(
      tmp_path / 'model.ckpt-12')
  assert ('the checkpoint state file of %s cannot be read (it is not a '
          'checkpoint state file, or names no checkpoint); taking '
          'model.ckpt-12, the newest checkpoint by its file name' % tmp_path
          ) in caplog.text
  (tmp_path / 'checkpoint').unlink()
  assert checkpoints.latest_readable_in_dir(str(tmp_path)) == str(
      tmp_path / 'model.ckpt-12')
  assert 'state file of %s is missing' % tmp_path in caplog.text
  # No TensorFlow parse warnings besides ours.
  assert 'ParseError' not in caplog.text
