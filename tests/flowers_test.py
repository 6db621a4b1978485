"""Flowers conversion from a miniature flower_photos.tgz."""

import glob
import io
import os
import tarfile

import numpy as np
from PIL import Image

from dataset_records import bytes_values, decode_split, parse_examples
from slimvision.datasets import dataset_utils
from slimvision.datasets import flowers

CLASSES = ('daisy', 'dandelion', 'roses', 'sunflowers', 'tulips')
PER_CLASS = 4


def _jpeg(seed):
  pixels = np.random.RandomState(seed).randint(0, 256, (12, 16, 3))
  buffer = io.BytesIO()
  Image.fromarray(pixels.astype(np.uint8)).save(buffer, format='JPEG')
  return buffer.getvalue()


def make_archive(path):
  """flower_photos/<class>/*.jpg, a LICENSE and one corrupt JPEG."""
  photos = {}
  with tarfile.open(path, 'w:gz') as tar:
    def add(name, data):
      info = tarfile.TarInfo(name)
      info.size = len(data)
      tar.addfile(info, io.BytesIO(data))
    add('flower_photos/LICENSE.txt', b'CC-BY')
    for label, name in enumerate(CLASSES):
      for i in range(PER_CLASS):
        data = _jpeg(label * 100 + i)
        filename = '%s_%d.jpg' % (name, i)
        add('flower_photos/%s/%s' % (name, filename), data)
        photos[filename] = (label, data)
    add('flower_photos/roses/broken.jpg', _jpeg(999)[:40])
  return photos


def _convert(tmp_path, seed=0, out='out'):
  archive = str(tmp_path / 'flower_photos.tgz')
  if not os.path.exists(archive):
    make_archive(archive)
  return flowers.convert(str(tmp_path / out), source=archive, seed=seed,
                         log=lambda m: None, num_threads=2)


def test_converts_with_official_split_share_and_skips_corrupt(tmp_path):
  photos = make_archive(str(tmp_path / 'flower_photos.tgz'))
  result = _convert(tmp_path)
  total = len(CLASSES) * PER_CLASS
  held_out = flowers.num_validation(total + 1)  # 21 files, one unreadable.
  assert flowers.num_validation(3670) == 350
  assert sum(result['splits'].values()) == total
  assert len(result['skipped']) == 1 and 'broken.jpg' in result['skipped'][0]
  assert result['splits']['validation'] in (held_out, held_out - 1)
  out = str(tmp_path / 'out')
  assert dataset_utils.read_label_file(out) == dict(enumerate(CLASSES))
  assert len(glob.glob(os.path.join(out, 'flowers_train_*-of-00005.tfrecord'))
            ) == 5
  assert not [f for f in os.listdir(out) if f.startswith('.')]  # Cleaned up.
  seen = []
  for split in ('train', 'validation'):
    dataset, records = decode_split(
        lambda s=split: flowers.get_split(s, out),
        items=('image', 'label'))
    assert dataset.num_samples == result['splits'][split] == len(records)
    examples = parse_examples(glob.glob(dataset.data_sources))
    for example, record in zip(examples, records):
      filename = bytes_values(example, 'image/filename')[0].decode()
      label, data = photos[filename]
      assert record['label'] == label
      assert bytes_values(example, 'image/encoded')[0] == data  # As is.
      assert record['image'].shape == (12, 16, 3)
      seen.append(filename)
  assert sorted(seen) == sorted(photos)


def test_output_is_deterministic_per_seed(tmp_path):
  def contents(out):
    return {f: open(os.path.join(out, f), 'rb').read()
            for f in sorted(os.listdir(out)) if f.endswith('.tfrecord')}
  _convert(tmp_path, seed=3, out='a')
  _convert(tmp_path, seed=3, out='b')
  _convert(tmp_path, seed=4, out='c')
  a, b, c = (contents(str(tmp_path / d)) for d in 'abc')
  assert a == b
  assert a != c


def test_extracted_folder_works_too(tmp_path):
  make_archive(str(tmp_path / 'flower_photos.tgz'))
  with tarfile.open(str(tmp_path / 'flower_photos.tgz')) as tar:
    tar.extractall(str(tmp_path / 'src'), filter='data')
  result = flowers.convert(str(tmp_path / 'out'), source=str(tmp_path / 'src'),
                           log=lambda m: None)
  assert sum(result['splits'].values()) == len(CLASSES) * PER_CLASS
