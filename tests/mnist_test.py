"""MNIST conversion from idx files (tiny fixtures and the real test split)."""

import collections
import glob
import gzip
import os

import numpy as np
import pytest

from conftest import run_cli, shared_path
from dataset_records import decode_split, int_values, parse_examples
from slimvision.datasets import conversion
from slimvision.datasets import dataset_factory
from slimvision.datasets import dataset_utils
from slimvision.datasets import mnist


def _idx_images(images, magic=2051):
  count, rows, cols = images.shape
  header = b''.join(int(v).to_bytes(4, 'big')
                    for v in (magic, count, rows, cols))
  return header + images.astype(np.uint8).tobytes()


def _idx_labels(labels, magic=2049):
  header = b''.join(int(v).to_bytes(4, 'big') for v in (magic, len(labels)))
  return header + np.asarray(labels, np.uint8).tobytes()


def _write(path, data):
  with gzip.open(path, 'wb') as f:
    f.write(data)


def make_source(folder, splits=('train', 'test'), num=(5, 4), seed=0):
  """Writes tiny real-format idx.gz files; returns {split: (images, labels)}."""
  os.makedirs(folder, exist_ok=True)
  rng = np.random.RandomState(seed)
  arrays = {}
  for split, count in zip(('train', 'test'), num):
    if split not in splits:
      continue
    images = rng.randint(0, 256, (count, 28, 28)).astype(np.uint8)
    labels = rng.randint(0, 10, count).astype(np.uint8)
    images_name, labels_name = mnist.SPLIT_FILES[split]
    _write(os.path.join(folder, images_name + '.gz'), _idx_images(images))
    _write(os.path.join(folder, labels_name + '.gz'), _idx_labels(labels))
    arrays[split] = (images, labels)
  return arrays


def test_round_trip_is_pixel_exact(tmp_path):
  arrays = make_source(str(tmp_path / 'src'))
  out = str(tmp_path / 'out')
  result = mnist.convert(out, source=str(tmp_path / 'src'), log=lambda m: None)
  assert result['splits'] == {'train': 5, 'test': 4}
  assert result['missing'] == [] and result['skipped'] == []
  assert sorted(os.listdir(out)) == ['dataset_spec.json', 'labels.txt',
                                     'mnist_test.tfrecord',
                                     'mnist_train.tfrecord']
  assert dataset_utils.read_label_file(out) == {i: str(i) for i in range(10)}
  for split, (images, labels) in arrays.items():
    dataset, records = decode_split(
        lambda s=split: dataset_factory.get_dataset('mnist', s, out))
    assert dataset.num_samples == len(labels)  # From the spec, not 60000.
    assert dataset.num_classes == 10
    assert [r['label'] for r in records] == labels.tolist()
    for record, image in zip(records, images):
      assert record['image'].shape == (28, 28, 1)
      np.testing.assert_array_equal(record['image'][:, :, 0], image)


def test_only_test_files_serves_only_test(tmp_path):
  make_source(str(tmp_path / 'src'), splits=('test',))
  out = str(tmp_path / 'out')
  lines = []
  result = mnist.convert(out, source=str(tmp_path / 'src'), log=lines.append)
  assert result['splits'] == {'test': 4}
  assert result['missing'] == ['train']
  assert any('split train not converted' in line for line in lines)
  assert mnist.get_split('test', out).num_samples == 4
  with pytest.raises(dataset_utils.DatasetError,
                     match=r"'train' of mnist was not converted.*"
                           r"available splits: test"):
    mnist.get_split('train', out)
  with pytest.raises(dataset_utils.DatasetError,
                     match=r"Unknown split 'validation'.*valid splits: "
                           r"test, train"):
    mnist.get_split('validation', out)


def test_without_spec_serves_official_sizes(tmp_path):
  make_source(str(tmp_path / 'src'))
  out = str(tmp_path / 'out')
  mnist.convert(out, source=str(tmp_path / 'src'), log=lambda m: None)
  os.remove(os.path.join(out, dataset_utils.SPEC_FILENAME))
  assert mnist.get_split('train', out).num_samples == 60000
  assert mnist.get_split('test', out).num_samples == 10000


def test_rerun_does_nothing_unless_overwrite(tmp_path):
  make_source(str(tmp_path / 'src'))
  out = str(tmp_path / 'out')
  mnist.convert(out, source=str(tmp_path / 'src'), log=lambda m: None)
  path = os.path.join(out, 'mnist_train.tfrecord')
  before = open(path, 'rb').read()
  os.utime(path, (0, 0))
  lines = []
  result = mnist.convert(out, source=str(tmp_path / 'src'), log=lines.append)
  assert result['existing'] and 'nothing to do' in lines[0]
  assert os.path.getmtime(path) == 0
  mnist.convert(out, source=str(tmp_path / 'src'), overwrite=True,
                log=lambda m: None)
  assert os.path.getmtime(path) != 0
  assert open(path, 'rb').read() == before  # Deterministic.


@pytest.mark.parametrize('damage, message', [
    ('magic', 'magic number 2049, expected 2051'),
    ('truncated', 'truncated'),
    ('count', 'holds 4 images but .* holds 3 labels'),
    ('label', 'label 12 out of range 0..9'),
    ('gzip', 'damaged or truncated'),
    ('pair', 'has t10k-images-idx3-ubyte.gz but not t10k-labels'),
])
def test_bad_idx_files_are_clear_errors(tmp_path, damage, message):
  src = str(tmp_path / 'src')
  images, labels = make_source(src, splits=('test',))['test']
  images_path = os.path.join(src, 't10k-images-idx3-ubyte.gz')
  labels_path = os.path.join(src, 't10k-labels-idx1-ubyte.gz')
  if damage == 'magic':
    _write(images_path, _idx_images(images, magic=2049))
  elif damage == 'truncated':
    _write(images_path, _idx_images(images)[:-100])
  elif damage == 'count':
    _write(labels_path, _idx_labels(labels[:3]))
  elif damage == 'label':
    _write(labels_path, _idx_labels([1, 2, 12, 3]))
  elif damage == 'gzip':
    data = open(images_path, 'rb').read()
    with open(images_path, 'wb') as f:
      f.write(data[:len(data) // 2])
  elif damage == 'pair':
    os.remove(labels_path)
  out = str(tmp_path / 'out')
  with pytest.raises(conversion.ConversionError, match=message):
    mnist.convert(out, source=src, log=lambda m: None)
  assert not glob.glob(os.path.join(out, '*'))  # Nothing that looks complete.


def test_real_mnist_test_split(tmp_path):
  source = shared_path('data', 'mnist')
  out = str(tmp_path / 'out')
  result = mnist.convert(out, source=source, log=lambda m: None)
  assert result['splits'] == {'test': 10000}
  with gzip.open(os.path.join(source, 't10k-labels-idx1-ubyte.gz')) as f:
    expected = np.frombuffer(f.read(), np.uint8, offset=8)
  examples = parse_examples(glob.glob(os.path.join(out, 'mnist_test*')))
  assert len(examples) == 10000
  histogram = collections.Counter(int_values(e, 'image/class/label')[0]
                                  for e in examples)
  assert histogram == collections.Counter(expected.tolist())
  assert mnist.get_split('test', out).num_samples == 10000


def test_interrupted_overwrite_keeps_the_previous_output(tmp_path, monkeypatch):
  make_source(str(tmp_path / 'src'))
  out = str(tmp_path / 'out')
  mnist.convert(out, source=str(tmp_path / 'src'), log=lambda m: None)
  before = {f: open(os.path.join(out, f), 'rb').read()
            for f in os.listdir(out)}
  calls = []

  def interrupted(image):
    calls.append(1)
    if len(calls) == 3:
      raise KeyboardInterrupt
    return b''

  monkeypatch.setattr(mnist, '_png', interrupted)
  with pytest.raises(KeyboardInterrupt):
    mnist.convert(out, source=str(tmp_path / 'src'), overwrite=True,
                  log=lambda m: None)
  after = {f: open(os.path.join(out, f), 'rb').read()
           for f in os.listdir(out)}
  assert after == before  # No staging folder, no half-written records.


def test_command_line(tmp_path):
  # The command's run() in this process: the packaging test starts the
  # installed command itself.
  make_source(str(tmp_path / 'src'), splits=('test',))
  ok = run_cli('download_and_convert_data.py', '--dataset_name=mnist',
               '--dataset_dir=%s' % (tmp_path / 'out'),
               '--source=%s' % (tmp_path / 'src'))
  assert ok.returncode == 0, ok.stderr
  assert 'Wrote mnist' in ok.stdout and 'test 4 records' in ok.stdout
  bad = run_cli('download_and_convert_data.py',
                '--dataset_name=visualwakewords',
                '--dataset_dir=%s' % (tmp_path / 'vww'))
  assert bad.returncode == 2
  assert bad.stderr.strip().splitlines()[-1].startswith(
      'error: --source_dir is required for visualwakewords')
