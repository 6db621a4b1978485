"""Converting folders of class sub-folders, and reading them back."""

import glob
import io
import os

import numpy as np
from PIL import Image
import pytest
import tensorflow.compat.v1 as tf

from slimvision.datasets import dataset_factory
from slimvision.datasets import dataset_utils
from slimvision.datasets import image_folder


def _write_image(path, pixels, image_format='PNG'):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(pixels).save(path, format=image_format)


def _make_folder(root, per_class=5, classes=('b_class', 'a_class', 'c_class')):
  """root/<class>/<i>.png with pixel value = 10 * class index + i."""
  for c, name in enumerate(sorted(classes)):
    for i in range(per_class):
      _write_image(os.path.join(root, name, '%d.png' % i),
                   np.full((4, 6, 3), 10 * c + i, np.uint8))


def _read_records(pattern):
  """[(pixels, label, text)] of every record matching pattern."""
  out = []
  for path in sorted(glob.glob(pattern)):
    for record in tf.io.tf_record_iterator(path):
      example = tf.train.Example.FromString(record)
      feature = example.features.feature
      pixels = np.asarray(Image.open(io.BytesIO(
          feature['image/encoded'].bytes_list.value[0])))
      out.append((pixels, feature['image/class/label'].int64_list.value[0],
                  feature['image/class/text'].bytes_list.value[0].decode()))
  return out


def test_flat_folder_is_split_by_fraction_and_labels_follow_labels_txt(
    tmp_path):
  _make_folder(str(tmp_path / 'src'), per_class=10)
  out = str(tmp_path / 'out')
  summary = image_folder.convert('mine', str(tmp_path / 'src'), out,
                                 validation_fraction=0.2, num_shards=3,
                                 log=lambda *_: None)
  assert summary['splits'] == {'train': 24, 'validation': 6}
  assert dataset_utils.read_label_file(out) == {
      0: 'a_class', 1: 'b_class', 2: 'c_class'}
  assert len(glob.glob(os.path.join(out, 'mine_train_*-of-00003.tfrecord'))
             ) == 3
  records = _read_records(os.path.join(out, 'mine_*.tfrecord'))
  assert len(records) == 30
  for pixels, label, text in records:
    assert pixels.shape == (4, 6, 3)
    assert pixels[0, 0, 0] // 10 == label  # Pixel-exact PNG round trip.
    assert text == ['a_class', 'b_class', 'c_class'][label]
  counts = np.bincount([label for _, label, _ in records])
  np.testing.assert_array_equal(counts, [10, 10, 10])


def test_small_classes_keep_a_validation_image_and_empty_ones_are_named(
    tmp_path):
  assert [image_folder.held_out_count(n, f) for n, f in [
      (800, 0.1), (5, 0.1), (15, 0.1), (2, 0.9), (1, 0.5), (10, 0.0)]] == [
          80, 1, 2, 1, 0, 0]
  _make_folder(str(tmp_path / 'src'), per_class=5)
  os.makedirs(str(tmp_path / 'src' / 'd_class'))
  lines = []
  summary = image_folder.convert('mine', str(tmp_path / 'src'),
                                 str(tmp_path / 'out'), log=lines.append)
  # 5 images at 0.1 once rounded to none: no validation split at all.
  assert summary['splits'] == {'train': 12, 'validation': 3}
  assert dataset_utils.read_label_file(str(tmp_path / 'out'))[3] == 'd_class'
  assert lines[-1] == (
      '  warning: no images in class folder(s) d_class: the model gets an '
      'output for each that no example trains; add images or remove the '
      'folder')


def test_conversion_is_deterministic_for_a_seed(tmp_path):
  _make_folder(str(tmp_path / 'src'), per_class=10)
  contents = []
  for run in ('a', 'b', 'c'):
    out = str(tmp_path / run)
    image_folder.convert('x', str(tmp_path / 'src'), out, seed=1 if run != 'c'
                         else 2, validation_fraction=0.3,
                         log=lambda *_: None)
    contents.append(b''.join(open(p, 'rb').read() for p in sorted(
        glob.glob(os.path.join(out, '*.tfrecord')))))
  assert contents[0] == contents[1]
  assert contents[0] != contents[2]


def test_split_folders_are_kept_and_bad_images_skipped(tmp_path):
  src = tmp_path / 'src'
  _make_folder(str(src / 'train'), per_class=3, classes=('cat', 'dog'))
  _make_folder(str(src / 'validation'), per_class=2, classes=('cat', 'dog'))
  (src / 'train' / 'cat' / 'broken.jpg').write_bytes(b'not a jpeg at all')
  (src / 'train' / 'dog' / 'notes.txt').write_text('ignored: not an image')
  _write_image(str(src / 'train' / 'dog' / 'gray.bmp'),
               np.full((5, 5), 7, np.uint8), 'BMP')
  lines = []
  summary = image_folder.convert('pets', str(src), str(tmp_path / 'out'),
                                 log=lines.append)
  assert summary['splits'] == {'train': 7, 'validation': 4}
  assert len(summary['skipped']) == 1 and 'broken.jpg' in summary['skipped'][0]
  assert any('1 image(s) skipped' in line for line in lines)
  records = _read_records(str(tmp_path / 'out' / 'pets_train_*'))
  gray = [p for p, _, _ in records if p.ndim == 2]
  assert len(gray) == 1 and gray[0][0, 0] == 7  # BMP re-encoded as PNG.


@pytest.mark.parametrize('setup, message', [
    (lambda src: None, 'is not a folder'),
    (lambda src: src.mkdir(), 'no class sub-folders'),
    (lambda src: (src / 'cls').mkdir(parents=True), 'has no images'),
])
def test_unusable_sources_are_clear_errors(tmp_path, setup, message):
  src = tmp_path / 'src'
  setup(src)
  with pytest.raises(image_folder.ConversionError, match=message):
    image_folder.convert('x', str(src), str(tmp_path / 'out'))


def test_rerun_keeps_complete_output_unless_overwrite(tmp_path):
  _make_folder(str(tmp_path / 'src'), per_class=6)
  out = str(tmp_path / 'out')
  image_folder.convert('x', str(tmp_path / 'src'), out, num_shards=5,
                       log=lambda *_: None)
  assert len(glob.glob(os.path.join(out, 'x_train_*'))) == 5
  lines = []
  summary = image_folder.convert('x', str(tmp_path / 'src'), out,
                                 num_shards=2, log=lines.append)
  assert summary.get('existing') and 'nothing to do' in lines[0]
  assert len(glob.glob(os.path.join(out, 'x_train_*'))) == 5
  image_folder.convert('x', str(tmp_path / 'src'), out, num_shards=2,
                       overwrite=True, log=lambda *_: None)
  # The old 5-shard files are gone, so the pattern matches only the new set.
  assert sorted(os.path.basename(p) for p in glob.glob(
      os.path.join(out, 'x_train_*'))) == [
          'x_train_00000-of-00002.tfrecord', 'x_train_00001-of-00002.tfrecord']


def test_failed_run_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
  _make_folder(str(tmp_path / 'src'), per_class=6)
  out = tmp_path / 'out'
  calls = []
  original = dataset_utils.StagedOutput.write_records

  def failing(self, *args, **kwargs):
    calls.append(1)
    if len(calls) == 2:
      raise OSError('disk full')
    return original(self, *args, **kwargs)

  monkeypatch.setattr(dataset_utils.StagedOutput, 'write_records', failing)
  with pytest.raises(OSError):
    image_folder.convert('x', str(tmp_path / 'src'), str(out))
  assert sorted(os.listdir(out)) == []


def test_factory_serves_a_converted_folder_by_its_name(tmp_path):
  _make_folder(str(tmp_path / 'src'), per_class=4)
  out = str(tmp_path / 'out')
  image_folder.convert('mine', str(tmp_path / 'src'), out,
                       validation_fraction=0.25, log=lambda *_: None)
  dataset = dataset_factory.get_dataset('mine', 'validation', out)
  assert dataset.num_samples == 3 and dataset.num_classes == 3
  assert dataset.labels_to_names[2] == 'c_class'
  with pytest.raises(dataset_utils.DatasetError,
                     match="Unknown split 'test'.*train, validation"):
    dataset_factory.get_dataset('mine', 'test', out)
  with pytest.raises(dataset_utils.DatasetError,
                     match="Unknown dataset name 'other'.*satellite"):
    dataset_factory.get_dataset('other', 'train', out)


def test_missing_or_empty_dataset_dir_is_a_clear_error(tmp_path):
  with pytest.raises(dataset_utils.DatasetError, match='does not exist'):
    dataset_factory.get_dataset('satellite', 'train', str(tmp_path / 'no'))
  with pytest.raises(dataset_utils.DatasetError, match='is empty'):
    dataset_factory.get_dataset('satellite', 'train', str(tmp_path))
  with pytest.raises(dataset_utils.DatasetError, match='required'):
    dataset_factory.get_dataset('satellite', 'train', '')


def test_a_killed_conversions_staging_folder_is_removed_by_the_next(
    tmp_path):
  import socket  # pylint: disable=g-import-not-at-top
  import subprocess  # pylint: disable=g-import-not-at-top
  out = tmp_path / 'out'
  out.mkdir()
  # A process that has ended: its PID is free (until reused, when its
  # folder is kept, as for any live process).
  ended = subprocess.Popen(['true'])
  ended.wait()
  host = socket.gethostname()
  stale = out / ('.staging-%s-%d' % (host, ended.pid))
  live = out / ('.staging-%s-%d' % (host, os.getppid()))
  other_host = out / '.staging-elsewhere-1'
  for folder in (stale, live, other_host):
    folder.mkdir()
    (folder / 'part_00000-of-00002.tfrecord').write_bytes(b'x' * 1000)
  dataset_utils.StagedOutput(str(out)).__exit__(None, None, None)
  assert not stale.exists()
  assert live.exists() and other_host.exists()
