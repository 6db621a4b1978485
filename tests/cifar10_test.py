"""CIFAR-10 conversion from miniature cifar-10-python.tar.gz and
cifar-10-binary.tar.gz archives."""

import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from dataset_records import decode_split
from slimvision.datasets import cifar10
from slimvision.datasets import dataset_utils

TRAIN_PER_BATCH = 3
TEST_COUNT = 4


def _batch_pickle(data, labels):
  """A batch pickled like the real files: bytes strings without helper
  globals (protocol 3 here; Python 2's protocol 2 there), numpy.core names."""
  batch = {b'batch_label': b'fixture batch',
           b'labels': [int(v) for v in labels],
           b'data': data, b'filenames': [b'img_%d.png' % i
                                         for i in range(len(labels))]}
  raw = pickle.dumps(batch, protocol=3)
  # numpy >= 2 writes numpy._core; the 2009 files say numpy.core.
  return raw.replace(b'numpy._core.multiarray', b'numpy.core.multiarray')


def _add(tar, name, data):
  info = tarfile.TarInfo(name)
  info.size = len(data)
  tar.addfile(info, io.BytesIO(data))


def make_archive(path, batches=None, seed=0, replace=None):
  """Writes a tiny cifar-10-python.tar.gz; returns {split: (images, labels)}.

  images are uint8 [N, 32, 32, 3]; replace maps a member name to raw bytes.
  """
  rng = np.random.RandomState(seed)
  batches = batches or cifar10.SPLIT_BATCHES['train'] + ('test_batch',)
  arrays = {'train': ([], []), 'test': ([], [])}
  with tarfile.open(path, 'w:gz') as tar:
    meta = pickle.dumps({b'label_names': [n.encode() for n in
                                          cifar10.CLASS_NAMES],
                         b'num_cases_per_batch': TRAIN_PER_BATCH,
                         b'num_vis': 3072}, protocol=3)
    _add(tar, 'cifar-10-batches-py/batches.meta', meta)
    for name in batches:
      split = 'test' if name == 'test_batch' else 'train'
      count = TEST_COUNT if split == 'test' else TRAIN_PER_BATCH
      images = rng.randint(0, 256, (count, 32, 32, 3)).astype(np.uint8)
      labels = rng.randint(0, 10, count)
      data = images.transpose(0, 3, 1, 2).reshape(count, 3072)
      raw = (replace or {}).get(name) or _batch_pickle(data, labels)
      _add(tar, 'cifar-10-batches-py/' + name, raw)
      arrays[split][0].append(images)
      arrays[split][1].append(labels)
  return {s: (np.concatenate(a[0]), np.concatenate(a[1]))
          for s, a in arrays.items() if a[0]}


def make_binary_archive(path, arrays, replace=None):
  """Writes `arrays` ({split: (images, labels)} of make_archive) as a tiny
  cifar-10-binary.tar.gz: TRAIN_PER_BATCH records per train batch file."""
  with tarfile.open(path, 'w:gz') as tar:
    # The real file ends with blank lines.
    meta = ''.join(n + '\n' for n in cifar10.CLASS_NAMES) + '\n\n'
    _add(tar, 'cifar-10-batches-bin/batches.meta.txt', meta.encode())
    for split, (images, labels) in arrays.items():
      if split == 'test':
        files = {'test_batch.bin': slice(None)}
      else:
        files = {'data_batch_%d.bin' % (i + 1): slice(
            i * TRAIN_PER_BATCH, (i + 1) * TRAIN_PER_BATCH) for i in range(5)}
      for name, rows in files.items():
        # Per record: the label byte, then the R, G and B 32x32 planes.
        planes = images[rows].transpose(0, 3, 1, 2).reshape(-1, 3072)
        records = np.concatenate(
            [labels[rows].astype(np.uint8)[:, None], planes], axis=1)
        raw = (replace or {}).get(name) or records.tobytes()
        _add(tar, 'cifar-10-batches-bin/' + name, raw)


def test_round_trip_is_pixel_exact(tmp_path):
  archive = str(tmp_path / 'cifar-10-python.tar.gz')
  arrays = make_archive(archive)
  out = str(tmp_path / 'out')
  result = cifar10.convert(out, source=archive, log=lambda m: None)
  assert result['splits'] == {'train': 5 * TRAIN_PER_BATCH,
                              'test': TEST_COUNT}
  assert set(os.listdir(out)) == {'cifar10_train.tfrecord',
                                  'cifar10_test.tfrecord', 'labels.txt',
                                  'dataset_spec.json'}
  assert dataset_utils.read_label_file(out) == dict(
      enumerate(cifar10.CLASS_NAMES))
  for split, (images, labels) in arrays.items():
    dataset, records = decode_split(lambda s=split: cifar10.get_split(s, out))
    assert dataset.num_samples == len(labels)
    assert [r['label'] for r in records] == labels.tolist()
    np.testing.assert_array_equal(np.stack([r['image'] for r in records]),
                                  images)


def test_binary_archive_gives_the_same_records_as_the_python_one(tmp_path):
  python_archive = str(tmp_path / 'cifar-10-python.tar.gz')
  arrays = make_archive(python_archive, seed=7)
  binary_archive = str(tmp_path / 'cifar-10-binary.tar.gz')
  make_binary_archive(binary_archive, arrays)
  outputs = {}
  for kind, source in (('python', python_archive),
                       ('binary', binary_archive)):
    outputs[kind] = str(tmp_path / kind)
    result = cifar10.convert(outputs[kind], source=source,
                             log=lambda m: None)
    assert result['splits'] == {'train': 5 * TRAIN_PER_BATCH,
                                'test': TEST_COUNT}, kind
  with open(os.path.join(outputs['python'], 'labels.txt')) as f:
    python_labels = f.read()
  with open(os.path.join(outputs['binary'], 'labels.txt')) as f:
    assert f.read() == python_labels
  assert python_labels.splitlines()[:2] == ['0:airplane', '1:automobile']
  for split, (images, labels) in arrays.items():
    decoded = {kind: decode_split(lambda s=split, o=out: cifar10.get_split(
        s, o))[1] for kind, out in outputs.items()}
    assert len(decoded['binary']) == len(decoded['python']) == len(labels)
    for i, (binary, python) in enumerate(zip(decoded['binary'],
                                             decoded['python'])):
      assert binary['label'] == python['label'] == labels[i]
      np.testing.assert_array_equal(binary['image'], python['image'])
      np.testing.assert_array_equal(binary['image'], images[i])


def test_extracted_binary_folder_and_a_truncated_batch(tmp_path):
  arrays = make_archive(str(tmp_path / 'c.tar.gz'), batches=('test_batch',))
  archive = str(tmp_path / 'b.tar.gz')
  make_binary_archive(archive, arrays)
  with tarfile.open(archive) as tar:
    tar.extractall(str(tmp_path / 'src'), filter='data')
  result = cifar10.convert(str(tmp_path / 'out'), source=str(tmp_path / 'src'),
                           log=lambda m: None)
  assert result['splits'] == {'test': TEST_COUNT}
  assert result['missing'] == ['train']
  _, records = decode_split(lambda: cifar10.get_split('test',
                                                      str(tmp_path / 'out')))
  np.testing.assert_array_equal(np.stack([r['image'] for r in records]),
                                arrays['test'][0])
  path = str(tmp_path / 'src' / 'cifar-10-batches-bin' / 'test_batch.bin')
  with open(path, 'rb') as f:
    data = f.read()
  with open(path, 'wb') as f:
    f.write(data[:-100])
  with pytest.raises(cifar10.conversion.ConversionError,
                     match=r'test_batch\.bin is not a CIFAR-10 binary batch: '
                     r'12192 bytes is not a whole number of 3073-byte'):
    cifar10.convert(str(tmp_path / 'out2'), source=str(tmp_path / 'src'),
                    log=lambda m: None)


def test_extracted_folder_and_only_test_batch(tmp_path):
  archive = str(tmp_path / 'c.tar.gz')
  arrays = make_archive(archive, batches=('test_batch',))
  with tarfile.open(archive) as tar:
    tar.extractall(str(tmp_path / 'src'), filter='data')
  out = str(tmp_path / 'out')
  lines = []
  result = cifar10.convert(out, source=str(tmp_path / 'src'),
                           log=lines.append)
  assert result['splits'] == {'test': TEST_COUNT}
  assert result['missing'] == ['train']
  assert any('split train not converted' in line for line in lines)
  _, records = decode_split(lambda: cifar10.get_split('test', out))
  np.testing.assert_array_equal(np.stack([r['image'] for r in records]),
                                arrays['test'][0])
  with pytest.raises(dataset_utils.DatasetError, match='available splits: '
                     'test'):
    cifar10.get_split('train', out)


class _Evil(object):

  def __init__(self, function, argument):
    self.function, self.argument = function, argument

  def __reduce__(self):
    return (self.function, (self.argument,))


@pytest.mark.parametrize('payload', ['system', 'eval'])
def test_pickle_calling_a_function_is_refused(tmp_path, payload):
  marker = tmp_path / 'pwned'
  if payload == 'system':
    evil = _Evil(os.system, 'touch %s' % marker)
  else:
    evil = _Evil(eval, 'open(%r, "w").close()' % str(marker))
  evil = pickle.dumps({b'data': evil, b'labels': []}, protocol=3)
  archive = str(tmp_path / 'cifar-10-python.tar.gz')
  make_archive(archive, replace={'data_batch_1': evil})
  out = str(tmp_path / 'out')
  with pytest.raises(cifar10.UnsafePickleError, match='refusing to load'):
    cifar10.convert(out, source=archive, log=lambda m: None)
  assert not marker.exists()
  assert not os.path.exists(os.path.join(out, 'dataset_spec.json'))
  assert not [f for f in os.listdir(out) if f.endswith('.tfrecord')]


def test_not_a_batch_is_a_clear_error(tmp_path):
  archive = str(tmp_path / 'cifar-10-python.tar.gz')
  make_archive(archive, replace={'test_batch': pickle.dumps(
      {b'data': np.zeros((2, 10), np.uint8), b'labels': [0, 1]},
      protocol=3)})
  with pytest.raises(cifar10.conversion.ConversionError,
                     match=r'expected uint8 \[N, 3072\]'):
    cifar10.convert(str(tmp_path / 'out'), source=archive, log=lambda m: None)


def test_download_uses_the_checksum(tmp_path, monkeypatch):
  archive = str(tmp_path / 'served' / 'cifar-10-python.tar.gz')
  os.makedirs(os.path.dirname(archive))
  make_archive(archive)
  calls = []

  def fake_fetch(url, dest_dir, filename, md5=None, log=print, **_):
    calls.append((url, filename, md5))
    return archive

  monkeypatch.setattr(cifar10.download, 'fetch', fake_fetch)
  result = cifar10.convert(str(tmp_path / 'out'), log=lambda m: None)
  assert calls == [(cifar10.URL, 'cifar-10-python.tar.gz',
                    'c58f30108f718f92721af3b95e74349a')]
  assert result['splits']['test'] == TEST_COUNT
