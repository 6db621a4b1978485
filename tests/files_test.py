"""core/files.py: a file is written all or nothing."""

import os

import pytest

from slimvision.core import files


def test_text_and_bytes_land_whole_and_replace_the_old_file(tmp_path):
  path = str(tmp_path / 'labels.txt')
  files.write_atomically(path, '0:cat\n1:d\u00f6g\n')
  with open(path, 'rb') as f:
    assert f.read() == '0:cat\n1:d\u00f6g\n'.encode('utf-8')
  files.write_atomically(path, b'\x00\x01graph')
  with open(path, 'rb') as f:
    assert f.read() == b'\x00\x01graph'
  assert os.listdir(str(tmp_path)) == ['labels.txt']


@pytest.mark.parametrize('failing', ['fsync', 'replace'])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path, monkeypatch, failing):
  path = str(tmp_path / 'spec.json')
  files.write_atomically(path, '{"old": 1}\n')

  def no_space(*unused_args):
    raise OSError(28, 'No space left on device')

  monkeypatch.setattr(files.os, failing, no_space)
  with pytest.raises(OSError, match='No space left'):
    files.write_atomically(path, '{"new": 2}\n')
  monkeypatch.undo()
  with open(path) as f:
    assert f.read() == '{"old": 1}\n'
  assert os.listdir(str(tmp_path)) == ['spec.json']


def test_an_interrupted_write_leaves_no_temporary(tmp_path, monkeypatch):
  path = str(tmp_path / 'new.pb')

  def interrupted(unused_fd):
    raise KeyboardInterrupt

  monkeypatch.setattr(files.os, 'fsync', interrupted)
  with pytest.raises(KeyboardInterrupt):
    files.write_atomically(path, b'half')
  assert os.listdir(str(tmp_path)) == []


def test_the_temporary_is_in_the_files_folder(tmp_path, monkeypatch):
  path = str(tmp_path / 'model.tflite')
  renamed = []
  original = os.replace

  def recording_replace(source, target):
    renamed.append((source, target))
    original(source, target)

  monkeypatch.setattr(files.os, 'replace', recording_replace)
  files.write_atomically(path, b'model')
  [(source, target)] = renamed
  assert target == path
  # The same folder, so the rename cannot cross file systems.
  assert os.path.dirname(source) == str(tmp_path)
  assert os.path.basename(source).startswith('model.tflite.tmp-%d-'
                                             % os.getpid())
