"""Helpers shared by the dataset modules and converters.

* `labels.txt` in TF-Slim's format (`index:name` per line);
* `dataset_spec.json`, our machine-readable summary of a converted folder
  (split sizes, number of classes, file pattern) written last by every
  converter, so its presence means "this output is complete";
* tf.train.Example construction with TF-Slim's feature keys;
* `make_split()`, which turns a dataset definition into a slim Dataset.
"""

import glob
import io
import json
import os
import re
import socket
import time

from PIL import Image
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.core import log as log_lib
from slimvision.core.errors import UserError
from slimvision.core.files import write_atomically

LABELS_FILENAME = 'labels.txt'
SPEC_FILENAME = 'dataset_spec.json'


class DatasetError(UserError):
  """A dataset folder or split that cannot be served, with the reason."""


# ----------------------------------------------------------------------------
# tf.train.Example features.


def int64_feature(values):
  """An int64 list feature from an int or a list of ints."""
  if not isinstance(values, (tuple, list)):
    values = [values]
  return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def float_feature(values):
  """A float list feature from a float or a list of floats."""
  if not isinstance(values, (tuple, list)):
    values = [values]
  return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def bytes_feature(values):
  """A bytes list feature from bytes/str or a list of them."""
  if not isinstance(values, (tuple, list)):
    values = [values]
  values = [v.encode('utf-8') if isinstance(v, str) else v for v in values]
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


# research/slim's names for list features: these take a value or a list.
bytes_list_feature = bytes_feature
float_list_feature = float_feature


def image_to_tfexample(image_data, image_format, height, width, class_id,
                       class_text=None, filename=None, extra_features=None):
  """A tf.train.Example with TF-Slim's standard image keys.

  Args:
    image_data: encoded image bytes.
    image_format: b'png' / b'jpeg' (or str).
    height, width: image size in pixels.
    class_id: integer label.
    class_text: optional class name, stored as `image/class/text`.
    filename: optional source file name, stored as `image/filename`.
    extra_features: optional dict of further key -> tf.train.Feature.
  """
  feature = {
      'image/encoded': bytes_feature(image_data),
      'image/format': bytes_feature(image_format),
      'image/class/label': int64_feature(int(class_id)),
      'image/height': int64_feature(int(height)),
      'image/width': int64_feature(int(width)),
  }
  if class_text is not None:
    feature['image/class/text'] = bytes_feature(class_text)
  if filename is not None:
    feature['image/filename'] = bytes_feature(filename)
  feature.update(extra_features or {})
  return tf.train.Example(features=tf.train.Features(feature=feature))


def box_features(boxes, labels):
  """Features of per-object boxes: what `object_box_features()` reads.

  Args:
    boxes: [(xmin, ymin, xmax, ymax)] relative to the image size, in [0, 1].
    labels: the integer class of each box.

  Returns:
    {key: tf.train.Feature} for 'image/object/bbox/{xmin,ymin,xmax,ymax}'
    and 'image/object/class/label' (empty lists when there is no box).
  """
  columns = list(zip(*boxes)) if boxes else [[]] * 4
  features = {'image/object/bbox/' + side: float_feature(list(column))
              for side, column in zip(('xmin', 'ymin', 'xmax', 'ymax'),
                                      columns)}
  features['image/object/class/label'] = int64_feature(
      [int(v) for v in labels])
  return features


def encode_png(pixels):
  """PNG bytes of a uint8 array [height, width] or [height, width, 3]."""
  buffer = io.BytesIO()
  Image.fromarray(pixels).save(buffer, format='PNG')
  return buffer.getvalue()


# ----------------------------------------------------------------------------
# Files written beside the records.


def write_label_file(labels_to_class_names, dataset_dir,
                     filename=LABELS_FILENAME):
  """Writes `index:name` lines, sorted by index, to dataset_dir/filename."""
  lines = ''.join('%d:%s\n' % (label, labels_to_class_names[label])
                  for label in sorted(labels_to_class_names))
  write_atomically(os.path.join(dataset_dir, filename), lines)


def has_labels(dataset_dir, filename=LABELS_FILENAME):
  """Whether dataset_dir holds a labels file."""
  return tf.gfile.Exists(os.path.join(dataset_dir, filename))


def read_label_file(dataset_dir, filename=LABELS_FILENAME):
  """Reads `index:name` lines into a dict {index: name}.

  Raises:
    DatasetError: on a line that is not `index:name`.
  """
  path = os.path.join(dataset_dir, filename)
  labels_to_names = {}
  with tf.gfile.Open(path, 'r') as f:
    for number, line in enumerate(f.read().splitlines(), 1):
      if not line.strip():
        continue
      index, sep, name = line.partition(':')
      if not sep or not index.strip().isdigit():
        raise DatasetError('%s line %d: expected "index:name", got %r' %
                           (path, number, line))
      labels_to_names[int(index)] = name
  return labels_to_names


def write_spec(dataset_dir, name, splits_to_sizes, num_classes, file_pattern,
               **extra):
  """Writes the dataset spec; converters call this last, once all is done."""
  spec = dict(name=name, splits=splits_to_sizes, num_classes=num_classes,
              file_pattern=file_pattern, **extra)
  write_atomically(os.path.join(dataset_dir, SPEC_FILENAME),
                   json.dumps(spec, indent=2, sort_keys=True) + '\n')


def read_spec(dataset_dir):
  """The dataset spec of a converted folder, or None if there is none."""
  path = os.path.join(dataset_dir, SPEC_FILENAME)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    try:
      spec = json.load(f)
    except ValueError as e:
      raise DatasetError('%s is not valid JSON (%s); re-run the conversion '
                         'with --overwrite' % (path, e))
  problem = _spec_problem(spec)
  if problem:
    raise DatasetError('%s: %s; re-run the conversion with --overwrite' %
                       (path, problem))
  return spec


def _is_count(value, least):
  return isinstance(value, int) and not isinstance(value, bool) and (
      value >= least)


def _spec_problem(spec):
  """What is wrong with a parsed dataset spec, or None."""
  if not isinstance(spec, dict):
    return 'expected a JSON object, got %s' % type(spec).__name__
  splits = spec.get('splits')
  if not isinstance(splits, dict) or not splits:
    return '"splits" must map each split to its example count, got %r' % (
        splits,)
  for split, count in sorted(splits.items()):
    if not _is_count(count, 0):
      return ('"splits" must give each split a count of examples, got %r '
              'for %r' % (count, split))
  if not _is_count(spec.get('num_classes'), 1):
    return '"num_classes" must be a positive integer, got %r' % (
        spec.get('num_classes'),)
  pattern = spec.get('file_pattern')
  if not isinstance(pattern, str) or pattern.count('%s') != 1:
    return ('"file_pattern" must be a file name pattern with one %%s for '
            'the split, got %r' % (pattern,))
  return None


def check_dataset_dir(dataset_dir):
  """Raises DatasetError unless dataset_dir is an existing, non-empty folder."""
  if not dataset_dir:
    raise DatasetError('--dataset_dir is required: the folder that holds the '
                       'converted TFRecord files')
  if not os.path.isdir(dataset_dir):
    raise DatasetError('--dataset_dir %s does not exist; convert a dataset '
                       'into it first with download_and_convert_data.py' %
                       dataset_dir)
  if not os.listdir(dataset_dir):
    raise DatasetError('--dataset_dir %s is empty; convert a dataset into it '
                       'first with download_and_convert_data.py' % dataset_dir)


def require_spec(dataset_dir):
  """The spec of the complete conversion in dataset_dir, or DatasetError."""
  check_dataset_dir(dataset_dir)
  spec = read_spec(dataset_dir)
  if spec is None:
    raise DatasetError(
        '%s has no %s: it was not converted by download_and_convert_data.py '
        '(or the conversion did not finish)' % (dataset_dir, SPEC_FILENAME))
  return spec


# ----------------------------------------------------------------------------
# Reading.


class ImageDecoder(slim.tfexample_decoder.TFExampleDecoder):
  """TFExampleDecoder of the standard keys (see image_decoder).

  Besides 'image' (decoded) it gives 'encoded' (the image's bytes) and
  'format', so the input pipeline can decode only the part and scale the
  preprocessing needs.

  Attributes:
    channels: the channels 'image' is decoded to.
  """

  def __init__(self, channels, keys_to_features, items_to_handlers):
    super().__init__(keys_to_features, items_to_handlers)
    self.channels = channels


def image_decoder(channels=3, extra_keys_to_features=None,
                  extra_items_to_handlers=None):
  """ImageDecoder for the standard keys: items 'image' (uint8 [h, w,
  channels]), 'encoded', 'format' and 'label'."""
  keys_to_features = {
      'image/encoded': tf.FixedLenFeature((), tf.string, default_value=''),
      'image/format': tf.FixedLenFeature((), tf.string, default_value='png'),
      # A plain default (not a Tensor), so a decoder made outside a graph
      # works inside any graph.
      'image/class/label': tf.FixedLenFeature([], tf.int64, default_value=0),
  }
  items_to_handlers = {
      'image': slim.tfexample_decoder.Image(channels=channels),
      'label': slim.tfexample_decoder.Tensor('image/class/label'),
      'encoded': slim.tfexample_decoder.Tensor('image/encoded'),
      'format': slim.tfexample_decoder.Tensor('image/format'),
  }
  keys_to_features.update(extra_keys_to_features or {})
  items_to_handlers.update(extra_items_to_handlers or {})
  return ImageDecoder(channels, keys_to_features, items_to_handlers)


def object_box_features():
  """Keys and handlers of per-object boxes and labels, for image_decoder.

  Returns:
    (keys_to_features, items_to_handlers): items 'object/bbox' ([N, 4] as
    ymin, xmin, ymax, xmax, relative to the image) and 'object/label' ([N]).
  """
  keys = {'image/object/bbox/' + side: tf.VarLenFeature(dtype=tf.float32)
          for side in ('xmin', 'ymin', 'xmax', 'ymax')}
  keys['image/object/class/label'] = tf.VarLenFeature(dtype=tf.int64)
  handlers = {
      'object/bbox': slim.tfexample_decoder.BoundingBox(
          ['ymin', 'xmin', 'ymax', 'xmax'], 'image/object/bbox/'),
      'object/label': slim.tfexample_decoder.Tensor(
          'image/object/class/label'),
  }
  return keys, handlers


# `<prefix>_00001-of-00005.tfrecord`, or TF-Slim's `train-00001-of-01024`.
_SHARD = re.compile(r'^(.*[-_])(\d+)-of-(\d+)(\.[^.]*)?$')


def _check_shards(files, split_name, dataset_label):
  """Raises DatasetError when the split's sharded record files
  (`..._NNNNN-of-MMMMM...`) are not all there, as one count: a shard lost
  or left over from another conversion would silently change the data."""
  shards = [_SHARD.match(os.path.basename(f)) for f in files]
  if not all(shards):
    return  # Files named otherwise (a user's pattern): nothing to count.
  counts = sorted({int(m.group(3)) for m in shards})
  if len(counts) > 1:
    raise DatasetError(
        'split %r of %s mixes record files of %s shards (%s); remove those '
        'of the other conversion, or re-run the conversion with --overwrite'
        % (split_name, dataset_label, ' and '.join(map(str, counts)),
           ', '.join(sorted(os.path.basename(f) for f in files)[:4])))
  width = len(shards[0].group(2))
  present = {int(m.group(2)) for m in shards}
  missing = ['%s%0*d-of-%s%s' % (shards[0].group(1), width, index,
                                  shards[0].group(3), shards[0].group(4) or '')
             for index in range(counts[0]) if index not in present]
  if missing:
    raise DatasetError(
        'split %r of %s lacks %d of its %d record files: %s; restore them '
        'or re-run the conversion with --overwrite' % (
            split_name, dataset_label, len(missing), counts[0],
            ', '.join(missing[:3]) + (', ...' if len(missing) > 3 else '')))


def make_split(split_name, dataset_dir, file_pattern, splits_to_sizes,
               num_classes, dataset_label, reader=None, decoder=None,
               items_to_descriptions=None):
  """Builds the slim Dataset of one split of a converted dataset.

  Args:
    split_name: e.g. 'train'.
    dataset_dir: folder with the record files (and labels.txt).
    file_pattern: pattern with one %s for the split name, relative to
      dataset_dir unless absolute.
    splits_to_sizes: dict split name -> number of examples.
    num_classes: number of classes (labels 0..num_classes-1).
    dataset_label: name used in error messages, e.g. 'satellite'.
    reader: reader class; tf.TFRecordReader by default.
    decoder: a data decoder; `image_decoder()` by default.
    items_to_descriptions: dict item -> description.

  Raises:
    DatasetError: unknown split, missing folder or missing record files.
  """
  if split_name not in splits_to_sizes:
    raise DatasetError('Unknown split %r for dataset %s; valid splits: %s' %
                       (split_name, dataset_label,
                        ', '.join(sorted(splits_to_sizes))))
  check_dataset_dir(dataset_dir)
  pattern = os.path.join(dataset_dir, file_pattern % split_name)
  files = glob.glob(pattern)
  if not files:
    raise DatasetError('No %s files for split %r match %s; convert it with '
                       'download_and_convert_data.py --dataset_name=%s' %
                       (dataset_label, split_name, pattern, dataset_label))
  _check_shards(files, split_name, dataset_label)
  labels_to_names = (read_label_file(dataset_dir)
                     if has_labels(dataset_dir) else None)
  return slim.dataset.Dataset(
      data_sources=pattern,
      reader=reader or tf.TFRecordReader,
      decoder=decoder or image_decoder(),
      num_samples=splits_to_sizes[split_name],
      items_to_descriptions=items_to_descriptions or {
          'image': 'A color image of varying size.',
          'label': 'A single integer between 0 and %d' % (num_classes - 1)},
      num_classes=num_classes,
      labels_to_names=labels_to_names)


# ----------------------------------------------------------------------------
# Writing a conversion safely.


def progress_line(stream, text):
  """Shows a progress line: rewritten in place (carriage return) on a
  terminal, one line each time in a log file or pipe. `text` None ends the
  line on a terminal."""
  is_terminal = getattr(stream, 'isatty', lambda: False)()
  if text is None:
    if is_terminal:
      stream.write('\n')
  elif is_terminal:
    stream.write('\r%s   ' % text)
  else:
    stream.write(text + '\n')
  stream.flush()


class Progress(object):
  """Shows `label: done/total (percent), rate/s, ETA` about every 10%
  (and at the end): in place on a terminal, a line each in a log."""

  def __init__(self, label, total, stream=None, clock=time.time):
    import sys  # pylint: disable=g-import-not-at-top
    self._label, self._total, self._done = label, total, 0
    self._stream = stream or sys.stdout
    self._next = 0
    self._clock = clock
    self._start = clock()

  def advance(self, count=1):
    self._done += count
    if self._done >= self._next or self._done == self._total:
      rate = self._done / max(self._clock() - self._start, 1e-6)
      left = (self._total - self._done) / max(rate, 1e-6)
      progress_line(self._stream, '%s: %d/%d (%.0f%%), %.1f/s, ETA %s' % (
          self._label, self._done, self._total,
          100.0 * self._done / max(1, self._total), rate,
          log_lib.format_duration(left)))
      if self._done >= self._total:
        progress_line(self._stream, None)
      self._next = self._done + max(1, self._total // 10)


def shard_filename(pattern, split_name, shard_id, num_shards):
  """E.g. ('x_%s_*.tfrecord', 'train', 0, 5) -> 'x_train_00000-of-00005.tfrecord'.

  A pattern without '*' names a single file ('mnist_%s.tfrecord').
  """
  name = pattern % split_name
  if '*' not in name:
    return name
  return name.replace('*', '%05d-of-%05d' % (shard_id, num_shards))


def _staging_name(pid):
  """The staging folder's name for process `pid` of this host."""
  return '.staging-%s-%s' % (socket.gethostname(), pid)


def _is_running(pid):
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # Another user's live process.
    return True
  return True


def _remove_stale_staging(dataset_dir):
  """Deletes the staging folders of conversions whose process is gone (a
  kill -9, a crash, a lost machine): they hold partial shards that nothing
  else would remove. A live conversion's folder is left alone."""
  import shutil  # pylint: disable=g-import-not-at-top
  # Only this host's: on a shared file system another host's live
  # conversion has a PID this one cannot see.
  prefix = _staging_name('')
  for path in glob.glob(os.path.join(dataset_dir, glob.escape(prefix) + '*')):
    pid = os.path.basename(path)[len(prefix):]
    if not pid.isdigit() or _is_running(int(pid)):
      continue
    size = sum(os.path.getsize(os.path.join(path, name))
               for name in os.listdir(path))
    shutil.rmtree(path, ignore_errors=True)
    log_lib.info('Removed %s (%.1f MB) of an interrupted conversion', path,
                 size / 1e6)


class StagedOutput(object):
  """Collects a conversion's files in a hidden folder, then moves them in.

  Nothing appears under its final name until `commit()`, which also removes
  the records of an earlier conversion of the same patterns and writes the
  dataset spec last. So an interrupted run leaves the previous output (or
  nothing) and never a partial set of files that looks complete.

  Use as a context manager; leaving the block by an exception deletes the
  staging folder. The folders of conversions killed outright are deleted by
  the next conversion into the same dataset_dir.
  """

  def __init__(self, dataset_dir):
    self.dataset_dir = dataset_dir
    os.makedirs(dataset_dir, exist_ok=True)
    _remove_stale_staging(dataset_dir)
    self.staging_dir = os.path.join(dataset_dir, _staging_name(os.getpid()))
    os.makedirs(self.staging_dir, exist_ok=True)

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    import shutil  # pylint: disable=g-import-not-at-top
    shutil.rmtree(self.staging_dir, ignore_errors=True)

  def path(self, filename):
    """Where to write `filename` while staging."""
    return os.path.join(self.staging_dir, filename)

  def write_records(self, serialized_examples, pattern, split_name, shard=0,
                    num_shards=1):
    """Writes serialized examples, in order, into one record file of a split.

    Args:
      serialized_examples: an iterable of bytes, consumed as it is written,
        so a shard need not be held in memory.
      pattern: file pattern with %s for the split (and '*' for the shard).
      split_name: e.g. 'train'.
      shard: index of this file, in [0, num_shards).
      num_shards: number of files of the split.

    Returns:
      The staged file name.
    """
    name = shard_filename(pattern, split_name, shard, num_shards)
    with tf.io.TFRecordWriter(self.path(name)) as writer:
      for record in serialized_examples:
        writer.write(record)
    return name

  def commit(self, name, splits_to_sizes, num_classes, file_pattern,
             labels_to_names=None, **spec_extra):
    """Moves the staged files into place; writes labels.txt and the spec."""
    spec_path = os.path.join(self.dataset_dir, SPEC_FILENAME)
    if os.path.exists(spec_path):
      os.remove(spec_path)
    for split_name in splits_to_sizes:
      for stale in glob.glob(os.path.join(self.dataset_dir,
                                          file_pattern % split_name)):
        os.remove(stale)
    for filename in sorted(os.listdir(self.staging_dir)):
      os.replace(self.path(filename), os.path.join(self.dataset_dir, filename))
    if labels_to_names is not None:
      write_label_file(labels_to_names, self.dataset_dir)
    write_spec(self.dataset_dir, name, splits_to_sizes, num_classes,
               file_pattern, **spec_extra)


def download_url(url, dataset_dir):
  """research/slim's download: url to dataset_dir/<its last component>,
  with datasets/download.py's retries, length check and temporary name.

  Returns:
    The path of the downloaded file.
  """
  # download imports this module: import it on use.
  from slimvision.datasets import download  # pylint: disable=g-import-not-at-top
  return download.fetch(url, dataset_dir)


def download_and_uncompress_tarball(tarball_url, dataset_dir):
  """research/slim's: download_url, then extract the archive into
  dataset_dir (after datasets/archive.py's checks of every member)."""
  from slimvision.datasets import archive  # pylint: disable=g-import-not-at-top
  archive.extract(download_url(tarball_url, dataset_dir), dataset_dir)


class _StagedRecordWriter(object):
  """A TFRecordWriter on a temporary name, renamed to `path` on a clean
  exit and removed on an error, so no partial shard looks complete."""

  def __init__(self, path):
    self.path = path
    self._tmp = '%s.tmp-%d' % (path, os.getpid())
    self._writer = tf.io.TFRecordWriter(self._tmp)

  def write(self, record):
    self._writer.write(record)

  def __enter__(self):
    return self

  def __exit__(self, exc_type, exc_value, traceback):
    self._writer.close()
    if exc_type is None:
      os.replace(self._tmp, self.path)
    else:
      os.remove(self._tmp)


def open_sharded_output_tfrecords(exit_stack, base_path, num_shards):
  """research/slim's: opens `base_path-NNNNN-of-NNNNN` TFRecord shards
  whose writers exit_stack (a contextlib.ExitStack) closes.

  Each shard is written under a temporary name and appears under its own
  name when the stack exits without an error.

  Returns:
    The list of num_shards writers (each has `write(serialized_record)`).
  """
  return [exit_stack.enter_context(_StagedRecordWriter(
      '%s-%05d-of-%05d' % (base_path, index, num_shards)))
          for index in range(num_shards)]
