"""datasets/dataset_utils.py: research/slim's record and download helpers."""

import contextlib
import os
import tarfile

import pytest
import tensorflow.compat.v1 as tf

from slimvision.datasets import dataset_utils
from slimvision.datasets import download


def test_list_features_take_lists():
  feature = dataset_utils.bytes_list_feature([b'a', b'bc'])
  assert list(feature.bytes_list.value) == [b'a', b'bc']
  feature = dataset_utils.float_list_feature([0.5, 2.0])
  assert list(feature.float_list.value) == [0.5, 2.0]


def test_sharded_tfrecords_appear_complete_on_exit(tmp_path):
  base = str(tmp_path / 'train.record')
  with contextlib.ExitStack() as stack:
    writers = dataset_utils.open_sharded_output_tfrecords(stack, base, 2)
    for index in range(5):
      writers[index % 2].write(b'record %d' % index)
    # Still under temporary names: nothing looks complete yet.
    assert not [n for n in os.listdir(str(tmp_path)) if '.tmp-' not in n]
  assert sorted(os.listdir(str(tmp_path))) == [
      'train.record-00000-of-00002', 'train.record-00001-of-00002']
  records = list(tf.io.tf_record_iterator(base + '-00001-of-00002'))
  assert records == [b'record 1', b'record 3']


def test_sharded_tfrecords_are_removed_after_an_error(tmp_path):
  with pytest.raises(RuntimeError, match='stop'):
    with contextlib.ExitStack() as stack:
      writers = dataset_utils.open_sharded_output_tfrecords(
          stack, str(tmp_path / 'x'), 3)
      writers[0].write(b'partial')
      raise RuntimeError('stop')
  assert os.listdir(str(tmp_path)) == []


def test_download_and_uncompress_tarball(tmp_path, monkeypatch):
  source = tmp_path / 'source'
  source.mkdir()
  (source / 'a.txt').write_text('hello')
  tarball = str(tmp_path / 'data.tar.gz')
  with tarfile.open(tarball, 'w:gz') as tar:
    tar.add(str(source / 'a.txt'), arcname='data/a.txt')
  fetched = []

  def fake_fetch(url, dest_dir, *args, **kwargs):
    assert not args and not kwargs
    fetched.append((url, dest_dir))
    return tarball

  monkeypatch.setattr(download, 'fetch', fake_fetch)
  out = tmp_path / 'out'
  dataset_utils.download_and_uncompress_tarball(
      'http://example.com/data.tar.gz', str(out))
  assert fetched == [('http://example.com/data.tar.gz', str(out))]
  assert (out / 'data' / 'a.txt').read_text() == 'hello'
