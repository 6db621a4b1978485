"""MNIST: 28x28 grayscale handwritten digits; converter and reader.

Source: the four idx files as distributed (`train-images-idx3-ubyte.gz`,
`train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz`,
`t10k-labels-idx1-ubyte.gz`, gzipped or not). An idx file starts with a
big-endian magic number (2051 for images, 2049 for labels), the item count
and, for images, rows and columns; then one unsigned byte per pixel/label.
Both are checked, as is the exact length, so a truncated or mismatched file
is a clear error. A folder with only the t10k pair converts only `test`.

Output: `mnist_train.tfrecord`, `mnist_test.tfrecord` (28x28x1 PNG, source
order), `labels.txt` ('0'..'9'), `dataset_spec.json`.
"""

import gzip
import os
import zlib

import numpy as np

from slimvision.datasets import conversion
from slimvision.datasets import dataset_utils
from slimvision.datasets import download

NAME = 'mnist'
FILE_PATTERN = 'mnist_%s.tfrecord'
SPLITS_TO_SIZES = {'train': 60000, 'test': 10000}
NUM_CLASSES = 10
# research/slim's names of FILE_PATTERN, SPLITS_TO_SIZES and NUM_CLASSES.
_FILE_PATTERN, _SPLITS_TO_SIZES, _NUM_CLASSES = (
    FILE_PATTERN, SPLITS_TO_SIZES, NUM_CLASSES)
CLASS_NAMES = tuple(str(i) for i in range(NUM_CLASSES))
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
# split: (images file, labels file) base names, without '.gz'.
SPLIT_FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}
# Original files (http://yann.lecun.com/exdb/mnist/) and their MD5s.
MIRRORS = ('https://storage.googleapis.com/cvdf-datasets/mnist/',
           'https://ossci-datasets.s3.amazonaws.com/mnist/')
MD5 = {
    'train-images-idx3-ubyte.gz': 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
    'train-labels-idx1-ubyte.gz': 'd53e105ee54ea40749a09fcbcd1e9432',
    't10k-images-idx3-ubyte.gz': '9fb629c4189551a2d022fa330f9573f3',
    't10k-labels-idx1-ubyte.gz': 'ec29112dd5afa0611ce80d1b7f02629c',
}


def _read_bytes(path):
  """The (gunzipped) content of path, with a clear error when damaged."""
  try:
    with open(path, 'rb') as f:
      data = f.read()
    if data[:2] == b'\x1f\x8b':
      data = gzip.decompress(data)
  except (OSError, EOFError, zlib.error) as e:
    raise conversion.ConversionError('%s is damaged or truncated (%s)' %
                                     (path, e))
  return data


def read_idx(path, magic):
  """Reads an idx file.

  Args:
    path: the file (gzipped or not).
    magic: IMAGES_MAGIC (2051, 3-d uint8) or LABELS_MAGIC (2049, 1-d uint8).

  Returns:
    uint8 array [count, rows, cols] for images, [count] for labels.

  Raises:
    conversion.ConversionError: wrong magic number, or a length that does not
      match the header (truncated or padded file).
  """
  data = _read_bytes(path)
  num_dims = 3 if magic == IMAGES_MAGIC else 1
  header_size = 4 * (1 + num_dims)
  kind = 'image' if magic == IMAGES_MAGIC else 'label'
  if len(data) < header_size:
    raise conversion.ConversionError(
        '%s is truncated: %d bytes, shorter than the idx header' %
        (path, len(data)))
  found = int.from_bytes(data[:4], 'big')
  if found != magic:
    raise conversion.ConversionError(
        '%s has magic number %d, expected %d (an MNIST %s file); is it the '
        'right file?' % (path, found, magic, kind))
  dims = [int.from_bytes(data[4 * i:4 * i + 4], 'big')
          for i in range(1, 1 + num_dims)]
  expected = header_size + int(np.prod(dims))
  if len(data) != expected:
    raise conversion.ConversionError(
        '%s has %d bytes but its header (%s %s) needs %d: the file is %s' % (
            path, len(data), kind + 's', 'x'.join(map(str, dims)), expected,
            'truncated' if len(data) < expected else 'padded or corrupt'))
  return np.frombuffer(data, np.uint8, offset=header_size).reshape(dims)


def _find(folder, base):
  for name in (base + '.gz', base, base.replace('-idx', '.idx') + '.gz',
               base.replace('-idx', '.idx')):
    path = os.path.join(folder, name)
    if os.path.isfile(path):
      return path
  return None


def read_split(folder, split):
  """(images uint8 [N, rows, cols], labels uint8 [N]) of a split, or None
  when the folder has neither of its files.

  Raises:
    conversion.ConversionError: only one of the pair, count mismatch, bad
      file or label out of range.
  """
  images_path, labels_path = (_find(folder, b) for b in SPLIT_FILES[split])
  if not images_path and not labels_path:
    return None
  if not images_path or not labels_path:
    raise conversion.ConversionError(
        '%s has %s but not %s' % (
            folder, os.path.basename(images_path or labels_path),
            SPLIT_FILES[split][0 if not images_path else 1] + '(.gz)'))
  images = read_idx(images_path, IMAGES_MAGIC)
  labels = read_idx(labels_path, LABELS_MAGIC)
  if images.shape[0] != labels.shape[0]:
    raise conversion.ConversionError(
        '%s holds %d images but %s holds %d labels' %
        (images_path, images.shape[0], labels_path, labels.shape[0]))
  if labels.size and labels.max() >= NUM_CLASSES:
    raise conversion.ConversionError(
        '%s has label %d out of range 0..%d' %
        (labels_path, labels.max(), NUM_CLASSES - 1))
  return images, labels


def download_source(download_dir, log=print):
  """Downloads the four files (MD5-checked); returns their folder."""
  for filename, md5 in sorted(MD5.items()):
    download.fetch(MIRRORS[0] + filename, download_dir, filename, md5=md5,
                   log=log, mirrors=tuple(m + filename for m in MIRRORS[1:]))
  return download_dir


# A module global, looked up per record, so a test can interrupt a run here.
_png = dataset_utils.encode_png


def _make_record(item):
  image, label = item
  height, width = image.shape
  return dataset_utils.image_to_tfexample(
      _png(image), b'png', height, width, int(label),
      class_text=CLASS_NAMES[label]).SerializeToString()


def convert(dataset_dir, source=None, overwrite=False, seed=0, log=print):
  """Converts MNIST into dataset_dir.

  Args:
    dataset_dir: output folder.
    source: folder with the idx files (or one of them); None downloads them
      into dataset_dir/downloads.
    overwrite: replace a complete earlier conversion.
    seed: unused (source order is kept, as in TF-Slim).
    log: function taking a message line.

  Returns:
    {'splits': {split: records}, 'skipped': [], 'missing': [splits]}.
  """
  del seed

  def plan(source, resources):
    del resources  # Nothing to close.
    folder = source if os.path.isdir(source) else os.path.dirname(source)
    splits = {split: read_split(folder, split) for split in SPLIT_FILES}
    missing = [(s, '%s has no %s / %s (.gz)' % ((folder,) + SPLIT_FILES[s]))
               for s in sorted(splits) if splits[s] is None]
    if len(missing) == len(splits):
      raise conversion.ConversionError(
          '%s holds no MNIST idx files; expected %s' % (
              folder, ', '.join(sorted(MD5))))
    return conversion.Plan(
        {split: list(zip(*arrays)) for split, arrays in splits.items()
         if arrays is not None},
        _make_record, dict(enumerate(CLASS_NAMES)), FILE_PATTERN,
        missing=missing, spec={'source': os.path.abspath(folder)})

  return conversion.run(NAME, dataset_dir, plan, source=source,
                        download_fn=download_source, overwrite=overwrite,
                        log=log)


def get_split(split_name, dataset_dir, file_pattern=None, reader=None):
  """The slim Dataset of split 'train' or 'test'; images decode to
  [28, 28, 1] uint8."""
  return conversion.get_split(
      NAME, split_name, dataset_dir, file_pattern or FILE_PATTERN,
      SPLITS_TO_SIZES, NUM_CLASSES, reader=reader,
      decoder=dataset_utils.image_decoder(channels=1),
      items_to_descriptions={
          'image': 'A [28 x 28 x 1] grayscale image.',
          'label': 'A single integer between 0 and 9'})
