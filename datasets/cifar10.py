"""CIFAR-10: 32x32 colour images of 10 classes; converter and reader.

Sources (https://www.cs.toronto.edu/~kriz/cifar.html), either archive, or
a folder holding one, its extracted folder or its batch files:
  * `cifar-10-python.tar.gz` (downloaded when no source is given):
    `cifar-10-batches-py/` holds the pickled batches `data_batch_1..5`
    (train, 10000 images each), `test_batch` (test) and `batches.meta`
    (class names). Each batch is a dict with b'data', uint8 [10000, 3072]
    (the red, green and blue 32x32 planes of each image, rows first) and
    b'labels'.
  * `cifar-10-binary.tar.gz`: `cifar-10-batches-bin/` holds
    `data_batch_1..5.bin`, `test_batch.bin` and `batches.meta.txt` (one
    class name a line). A batch is 10000 records of 3073 bytes: the label,
    then the same 3072 pixel bytes.
Both give the same records.

The pickles are read with `SafeUnpickler`, which only lets through what those
files contain (numpy array reconstruction; dicts, lists, bytes and numbers
are built by the pickle machinery itself), so a tampered archive cannot run
code. Output: `cifar10_train.tfrecord` and `cifar10_test.tfrecord` with
32x32x3 PNG images in source order, `labels.txt`, `dataset_spec.json`.
"""

import collections
import functools
import io
import os
import pickle

import numpy as np

from slimvision.datasets import archive
from slimvision.datasets import conversion
from slimvision.datasets import dataset_utils
from slimvision.datasets import download

NAME = 'cifar10'
FILE_PATTERN = 'cifar10_%s.tfrecord'
SPLITS_TO_SIZES = {'train': 50000, 'test': 10000}
NUM_CLASSES = 10
# research/slim's names of FILE_PATTERN, SPLITS_TO_SIZES and NUM_CLASSES.
_FILE_PATTERN, _SPLITS_TO_SIZES, _NUM_CLASSES = (
    FILE_PATTERN, SPLITS_TO_SIZES, NUM_CLASSES)
IMAGE_SIZE = 32
CLASS_NAMES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog',
               'horse', 'ship', 'truck')
SPLIT_BATCHES = {
    'train': tuple('data_batch_%d' % i for i in range(1, 6)),
    'test': ('test_batch',),
}
META_BATCH = 'batches.meta'
ARCHIVE_NAME = 'cifar-10-python.tar.gz'
BINARY_ARCHIVE_NAME = 'cifar-10-binary.tar.gz'
# One record of the binary batches: the label byte, then the pixels.
RECORD_BYTES = 1 + IMAGE_SIZE * IMAGE_SIZE * 3
URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'
ARCHIVE_MD5 = 'c58f30108f718f92721af3b95e74349a'  # Published on the site.


class UnsafePickleError(conversion.ConversionError):
  """A pickle that asks for something a CIFAR batch never contains."""


class SafeUnpickler(pickle.Unpickler):
  """Unpickler that resolves only the globals the CIFAR batches need.

  The batches (pickled by Python 2 with numpy) reference exactly the numpy
  array reconstructor, ndarray and dtype; any other global (os.system,
  builtins.eval, subprocess.Popen, ...) is refused before it is called.
  """

  ALLOWED = frozenset([
      ('numpy.core.multiarray', '_reconstruct'),
      ('numpy._core.multiarray', '_reconstruct'),  # numpy >= 2 name.
      ('numpy', 'ndarray'),
      ('numpy', 'dtype'),
  ])

  def find_class(self, module, name):
    if (module, name) not in self.ALLOWED:
      raise UnsafePickleError(
          'refusing to load %s.%s from a CIFAR-10 batch: the real files only '
          'hold numpy arrays, lists and dicts, so this file was not made by '
          'the CIFAR-10 authors' % (module, name))
    if module == 'numpy.core.multiarray':  # Old name, same function.
      module = 'numpy._core.multiarray' if hasattr(np, '_core') else module
    return super().find_class(module, name)

  def persistent_load(self, pid):
    raise UnsafePickleError('refusing a persistent id in a CIFAR-10 batch')


def load_batch(data, name='batch'):
  """Unpickles one batch safely; returns its dict (bytes keys).

  Raises:
    UnsafePickleError: the pickle references a forbidden global.
    conversion.ConversionError: not a readable pickle.
  """
  try:
    batch = SafeUnpickler(io.BytesIO(data), encoding='bytes').load()
  except UnsafePickleError as e:
    raise UnsafePickleError('%s: %s' % (name, e))
  except (pickle.UnpicklingError, EOFError, ValueError, TypeError,
          AttributeError, ImportError, IndexError, KeyError) as e:
    raise conversion.ConversionError(
        '%s is not a readable CIFAR-10 batch (%s: %s)' %
        (name, type(e).__name__, e))
  if not isinstance(batch, dict):
    raise conversion.ConversionError('%s is not a CIFAR-10 batch: it holds a '
                                     '%s, expected a dict' %
                                     (name, type(batch).__name__))
  return batch


def load_binary_batch(data, name='batch'):
  """Reads one batch of the binary archive; returns a dict like load_batch's.

  Returns:
    {b'data': uint8 [N, 3072], b'labels': uint8 [N]}.

  Raises:
    conversion.ConversionError: a length that is not whole records.
  """
  if not data or len(data) % RECORD_BYTES:
    raise conversion.ConversionError(
        '%s is not a CIFAR-10 binary batch: %d bytes is not a whole number of '
        '%d-byte records (label byte + 32x32x3 pixels); is it truncated?' %
        (name, len(data), RECORD_BYTES))
  records = np.frombuffer(data, np.uint8).reshape(-1, RECORD_BYTES)
  return {b'data': records[:, 1:], b'labels': records[:, 0]}


def _batch_arrays(batch, name):
  """(images uint8 [N, 32, 32, 3], labels int64 [N]) of a batch dict."""
  data, labels = batch.get(b'data'), batch.get(b'labels')
  if data is None or labels is None:
    raise conversion.ConversionError(
        '%s lacks b"data" or b"labels" (keys: %s)' %
        (name, ', '.join(repr(k) for k in batch)))
  data = np.asarray(data)
  if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
    raise conversion.ConversionError(
        '%s: b"data" is %s %s, expected uint8 [N, 3072]' %
        (name, data.dtype, list(data.shape)))
  labels = np.asarray(labels, dtype=np.int64).reshape(-1)
  if labels.shape[0] != data.shape[0]:
    raise conversion.ConversionError('%s has %d images but %d labels' %
                                     (name, data.shape[0], labels.shape[0]))
  bad = labels[(labels < 0) | (labels >= NUM_CLASSES)]
  if bad.size:
    raise conversion.ConversionError(
        '%s has label %d out of range 0..%d' % (name, bad[0], NUM_CLASSES - 1))
  images = data.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE).transpose(0, 2, 3, 1)
  return images, labels


def _pickled_class_names(data, name):
  return load_batch(data, name).get(b'label_names')


def _text_class_names(data, unused_name):
  return [line.strip() for line in data.decode('utf-8').splitlines()
          if line.strip()]


# How each archive lays out its files; a batch file is base name + suffix.
Layout = collections.namedtuple('Layout', [
    'archive', 'folder', 'suffix', 'load_batch', 'meta', 'class_names'])
LAYOUTS = (
    Layout(ARCHIVE_NAME, 'cifar-10-batches-py', '', load_batch, META_BATCH,
           _pickled_class_names),
    Layout(BINARY_ARCHIVE_NAME, 'cifar-10-batches-bin', '.bin',
           load_binary_batch, 'batches.meta.txt', _text_class_names),
)


def _batch_files(layout):
  """{split: batch file names} of a layout."""
  return {split: tuple(b + layout.suffix for b in batches)
          for split, batches in SPLIT_BATCHES.items()}


def _layout_of(names):
  """The Layout whose batch files are among `names`, or None."""
  for layout in LAYOUTS:
    if any(set(batches) & names
           for batches in _batch_files(layout).values()):
      return layout
  return None


class _Source(object):
  """The batch files of an archive or a folder, by base name."""

  def __init__(self, path):
    self.path = path
    self._tar = None
    self._members = {}
    if os.path.isdir(path):
      for folder in [path] + [os.path.join(path, l.folder) for l in LAYOUTS]:
        if os.path.isdir(folder):
          for name in os.listdir(folder):
            self._members.setdefault(name, os.path.join(folder, name))
      if not _layout_of(set(self._members)):
        for layout in LAYOUTS:
          inner = os.path.join(path, layout.archive)
          if os.path.isfile(inner):
            self.__init__(inner)
            break
    elif os.path.isfile(path):
      self._tar = archive.open_tar(path)
      for member in archive.check_tar(self._tar, path):
        if member.isfile():
          self._members.setdefault(os.path.basename(member.name), member)
    else:
      raise conversion.ConversionError('--source_dir %s does not exist' % path)

  def names(self):
    return set(self._members)

  def read(self, name):
    member = self._members[name]
    try:
      if self._tar is None:
        with open(member, 'rb') as f:
          return f.read()
      return self._tar.extractfile(member).read()
    except (OSError, EOFError) as e:
      raise conversion.ConversionError('%s: cannot read %s (%s); the archive '
                                       'may be truncated' %
                                       (self.path, name, e))

  def close(self):
    if self._tar is not None:
      self._tar.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    self.close()


def download_source(download_dir, log=print):
  """Downloads the official archive (MD5-checked) into download_dir."""
  return download.fetch(URL, download_dir, ARCHIVE_NAME, md5=ARCHIVE_MD5,
                        log=log)


def _class_names(batches, layout):
  """The class names of the layout's meta file, else CLASS_NAMES."""
  if layout.meta not in batches.names():
    return CLASS_NAMES
  label_names = layout.class_names(batches.read(layout.meta), layout.meta)
  if not label_names:
    return CLASS_NAMES
  class_names = tuple(n.decode('utf-8') if isinstance(n, bytes) else str(n)
                      for n in label_names)
  if len(class_names) != NUM_CLASSES:
    raise conversion.ConversionError('%s lists %d classes, expected %d' %
                                     (layout.meta, len(class_names),
                                      NUM_CLASSES))
  return class_names


def _read_split(batches, names, load):
  """[(image uint8 [32, 32, 3], label)] of the batch files `names`, each
  read by `load(data, name)` into a batch dict."""
  arrays = [_batch_arrays(load(batches.read(b), b), b) for b in names]
  return list(zip(np.concatenate([a[0] for a in arrays]),
                  np.concatenate([a[1] for a in arrays])))


def _make_record(item, class_names):
  image, label = item
  label = int(label)
  return dataset_utils.image_to_tfexample(
      dataset_utils.encode_png(image), b'png', IMAGE_SIZE, IMAGE_SIZE, label,
      class_text=class_names[label]).SerializeToString()


def convert(dataset_dir, source=None, overwrite=False, seed=0, log=print):
  """Converts CIFAR-10 into dataset_dir.

  Args:
    dataset_dir: output folder.
    source: `cifar-10-python.tar.gz` or `cifar-10-binary.tar.gz`, or a
      folder holding one, its extracted `cifar-10-batches-py/` or
      `cifar-10-batches-bin/`, or the batch files; None downloads the python
      archive into dataset_dir/downloads.
    overwrite: replace a complete earlier conversion.
    seed: unused (the records keep the source order, as TF-Slim's), accepted
      so every converter has the same arguments.
    log: function taking a message line.

  Returns:
    {'splits': {split: records}, 'skipped': [...], 'missing': [splits]}.

  Raises:
    conversion.ConversionError / UnsafePickleError / archive.ArchiveError.
  """
  del seed

  def plan(source, resources):
    batches = resources.enter_context(_Source(source))
    names = batches.names()
    layout = _layout_of(names)
    if not layout:
      raise conversion.ConversionError(
          '%s holds no CIFAR-10 batch (%s); expected the official %s or %s' %
          (source, ', '.join(sorted(names)[:10]) or 'empty', ARCHIVE_NAME,
           BINARY_ARCHIVE_NAME))
    class_names = _class_names(batches, layout)
    splits, missing = {}, []
    for split, files in sorted(_batch_files(layout).items()):
      present = [b for b in files if b in names]
      absent = [b for b in files if b not in names]
      if not present:
        missing.append((split, '%s has no %s' % (source, ', '.join(files))))
        continue
      if absent:
        log('Warning: %s lacks %s; split %s will be incomplete' %
            (source, ', '.join(absent), split))
      # Read when written: one split in memory at a time.
      splits[split] = functools.partial(_read_split, batches, present,
                                        layout.load_batch)
    return conversion.Plan(
        splits, functools.partial(_make_record, class_names=class_names),
        dict(enumerate(class_names)), FILE_PATTERN, missing=missing)

  return conversion.run(NAME, dataset_dir, plan, source=source,
                        download_fn=download_source, overwrite=overwrite,
                        log=log)


def get_split(split_name, dataset_dir, file_pattern=None, reader=None):
  """The slim Dataset of split 'train' or 'test' (items 'image', 'label')."""
  return conversion.get_split(
      NAME, split_name, dataset_dir, file_pattern or FILE_PATTERN,
      SPLITS_TO_SIZES, NUM_CLASSES, reader=reader,
      items_to_descriptions={
          'image': 'A [32 x 32 x 3] color image.',
          'label': 'A single integer between 0 and 9'})
