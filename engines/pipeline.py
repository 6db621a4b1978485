"""The tf.data input pipeline built from a slim Dataset.

It reads the same things TF-Slim's queue-based DatasetDataProvider read (the
Dataset's file pattern, reader and decoder) with tf.data: files interleaved
in parallel, records decoded and preprocessed in parallel, shuffled, batched
and prefetched, so the model never waits on input.

Bad data is named. Every record travels with its file and its index in the
file, so a record file that cannot be read to its end, a record that cannot
be parsed or whose image cannot be decoded, and a label out of range fail
the input with a message naming the file, the record and the problem
(core/errors.py finds it in TensorFlow's text), or, given a SkippedRecords,
are skipped with a warning naming them. The checks are a few graph ops per
batch of records; only a batch that holds a bad record calls Python, which
names it.
"""

import functools
import glob
import threading

import numpy as np
import tensorflow.compat.v1 as tf

from slimvision.core import errors
from slimvision.core import log
from slimvision.core.errors import UserError
from slimvision.datasets import dataset_utils
from slimvision.preprocessing import encoded_image

# Bytes a TFRecord file spends on each record besides its data: the length
# (8 bytes), the length's CRC (4) and the data's CRC (4).
_RECORD_OVERHEAD = 16
# Records numbered per call of a numbering function.
_READ_BATCH = 32
# Records remembered before each record, to name those whose decoding fails
# (they vanish from the stream; the record after them names them).
_REMEMBERED = 8

BAD_FILE = 'corrupt or truncated record file'
BAD_DATA = 'invalid data'
NO_RECORDS = 'no usable records'
# 'stop' of a record, and of the marker after a file read to its end.
_RECORD, _FILE_END = -1, -2
# Passes over the files (counted by their end markers) without one usable
# record before the input fails: with every record skipped it would wait
# for its first batch forever. Many, because the record shuffle mixes the
# passes: with one usable record per pass, 30 passes' markers in a row
# without it come by chance with odds of about e^-30.
_MAX_PASSES_WITHOUT_A_RECORD = 30
UNDECODABLE = 'the record cannot be parsed or its image decoded'


def list_files(dataset):
  """The record files of a slim Dataset (sorted), or a UserError."""
  patterns = dataset.data_sources
  if isinstance(patterns, str):
    patterns = [patterns]
  files = sorted(f for p in patterns for f in glob.glob(p))
  if not files:
    raise UserError('No record files match %s' % ', '.join(patterns))
  return files


def gives_encoded_images(dataset):
  """Whether the records of `dataset` can be decoded partially: its decoder
  gives the image's bytes (dataset_utils.ImageDecoder)."""
  return isinstance(dataset.decoder, dataset_utils.ImageDecoder)


def use_encoded_images(jpeg_decode, preprocessing_fn, dataset):
  """Whether to give `preprocessing_fn` EncodedImages: --jpeg_decode is
  'partial', the preprocessing takes them and the dataset gives them."""
  return (jpeg_decode == 'partial' and
          getattr(preprocessing_fn, 'accepts_encoded_image', False) and
          gives_encoded_images(dataset))


def session_config(config):
  """The ConfigProto a training or evaluation session starts from: the
  thread pools of `config` (a TrainConfig or EvalConfig: intra_op_threads,
  inter_op_threads; 0 is one per core), soft placement, and Grappler
  without its MLIR hook.

  The hook (`disable_tfg_optimizer`) converts each graph to MLIR and back
  at each Grappler pass and changes nothing: with it off, every pass
  leaves the same number of nodes. Grappler runs at each new set of
  fetches (initialization, the readiness checks, the step with and without
  summaries, the input's functions), so a run starts a little sooner
  (inception_v3: 0.3-0.5 s of its session start and first step).
  """
  base = tf.ConfigProto(
      allow_soft_placement=True,
      intra_op_parallelism_threads=config.intra_op_threads,
      inter_op_parallelism_threads=config.inter_op_threads)
  base.graph_options.rewrite_options.disable_tfg_optimizer = True
  return base


def decoded_size_bytes(dataset, sample_files=8):
  """An estimate of the bytes `dataset`'s images take decoded (uint8):
  num_samples times the mean size of the first image of up to
  `sample_files` of its record files (Pillow reads their headers only).
  None when a first record cannot be read or its image is not one Pillow
  reads (the pipeline then names the bad record, as it would anyway)."""
  import io  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  channels = getattr(dataset.decoder, 'channels', 3)
  pixels = []
  for path in list_files(dataset)[:sample_files]:
    try:
      record = next(iter(tf.io.tf_record_iterator(path)), None)
      if record is None:
        continue
      feature = tf.train.Example.FromString(record).features.feature
      width, height = Image.open(io.BytesIO(
          feature['image/encoded'].bytes_list.value[0])).size
    except (tf.errors.OpError, KeyError, IndexError, OSError, ValueError):
      return None
    pixels.append(width * height)
  if not pixels:
    return None
  return int(dataset.num_samples * channels * sum(pixels) / len(pixels))


def available_memory_bytes():
  """The bytes this process could still take: the kernel's MemAvailable,
  or less where a cgroup (a container's limit) leaves less; None where
  neither can be read."""
  limits = []
  try:
    with open('/proc/meminfo') as meminfo:
      for line in meminfo:
        if line.startswith('MemAvailable:'):
          limits.append(int(line.split()[1]) * 1024)
  except (OSError, ValueError, IndexError):
    pass
  try:
    with open('/sys/fs/cgroup/memory.max') as limit_file, open(
        '/sys/fs/cgroup/memory.current') as used_file:
      limit = limit_file.read().strip()
      if limit != 'max':
        limits.append(max(0, int(limit) - int(used_file.read())))
  except (OSError, ValueError):
    pass
  return min(limits) if limits else None


def classes_after_offset(dataset_name, num_classes, labels_offset):
  """The model's output count: the dataset's `num_classes` less
  `labels_offset` (--labels_offset, e.g. 1 to drop ImageNet's background).

  Raises:
    UserError: the offset leaves no class.
  """
  if num_classes - labels_offset < 1:
    raise UserError(
        '--labels_offset=%d leaves no classes: %s has %d (labels 0-%d); use '
        '0 to %d (1 drops the background class of a TF-Slim ImageNet)' % (
            labels_offset, dataset_name, num_classes, num_classes - 1,
            num_classes - 1))
  return num_classes - labels_offset


def decode_fn(dataset, labels_offset=0, encoded=False):
  """Returns serialized Example -> (image, int64 label minus
  `labels_offset`), unchecked: build_dataset checks the label.

  The image is uint8 [H, W, C], or with `encoded` (for a dataset that
  gives_encoded_images) an EncodedImage, which decodes a JPEG only as far
  as the preprocessing asks and any other format as the dataset does.
  """
  decoder = dataset.decoder

  def label_of(label):
    return tf.cast(tf.reshape(label, []), tf.int64) - labels_offset

  def decode(serialized):
    image, label = decoder.decode(serialized, ['image', 'label'])
    return image, label_of(label)

  def decode_encoded(serialized):
    data, image_format, label = decoder.decode(
        serialized, ['encoded', 'format', 'label'])
    # As tf-slim's Image handler: 'raw' pixels are no JPEG whatever they
    # start with.
    is_jpeg = tf.logical_and(
        tf.io.is_jpeg(data),
        tf.not_equal(tf.strings.lower(image_format), 'raw'))
    image = encoded_image.EncodedImage(
        data, decoder.channels,
        lambda: decoder.decode(serialized, ['image'])[0], is_jpeg=is_jpeg)
    return image, label_of(label)

  return decode_encoded if encoded else decode


class SkippedRecords(object):
  """The bad records an input pipeline skipped; each is warned about once.

  Attributes:
    records: {(file, index in the file): reason}. A file that cannot be
      read to its end is one entry, at the record where reading stopped
      (how many records its unreadable rest held is unknown).
    unnamed: records skipped without a name: more records in a row failed
      to decode than the pipeline remembers (_REMEMBERED).
  """

  def __init__(self, warn=True):
    """warn: log a warning for each record the first time it is skipped."""
    self.records = {}
    self.unnamed = 0
    self._warn = warn
    self._lock = threading.Lock()

  def reset(self):
    with self._lock:
      self.records.clear()
      self.unnamed = 0

  def add(self, files, indices, reasons, unnamed=0):
    """Notes records: files, reasons [n] str, indices [n] ints."""
    for path, index, reason in zip(files, indices, reasons):
      key = (path, int(index))
      with self._lock:
        new = key not in self.records
        self.records.setdefault(key, reason)
      if new and self._warn:
        log.warning('skipped %s record %d: %s', key[0], key[1], reason)
    if unnamed:
      with self._lock:
        self.unnamed += int(unnamed)
      if self._warn:
        log.warning('skipped %d record(s) that could not be named: %s',
                    unnamed, UNDECODABLE)

  @property
  def count(self):
    return len(self.records) + self.unnamed

  def summary(self):
    """E.g. 'Skipped 2 corrupt record(s)'."""
    return 'Skipped %d corrupt record(s)' % self.count


def _unless(ok, report_fn):
  """An op: nothing if `ok`, else report_fn()'s op (built for that case
  only, so good records never pay for the message)."""
  return tf.cond(ok, tf.no_op, lambda: tf.group(report_fn()))


def _read_file(file_id, path, size):
  """The records of one file (`size` bytes) as dicts of 'file' (file_id),
  'index' (in the file), 'record' (serialized bytes) and 'stop' (_RECORD),
  then a marker.

  TensorFlow's error for a truncated or corrupt record names neither the
  file nor the record, so a reading error ends the file quietly and the
  marker after the records compares the bytes read with the file's size:
  its 'stop' is the bytes read if they differ, else _FILE_END, its 'index'
  the first record not read, and it carries a blank record to decode. So
  `_skip_or_fail_bad_records` fails on (or reports) a file read short, sees
  the records whose decoding failed even at a file's end, and sees every
  pass go by even when no record decodes: an error raised here would be
  ignored downstream.
  """
  records = tf.data.Dataset.zip((
      tf.data.TFRecordDataset(path, buffer_size=8 << 20).ignore_errors(),
      tf.data.Dataset.from_tensors(False).repeat()))
  marked = records.concatenate(
      tf.data.Dataset.from_tensors((tf.constant(_blank_record()), True)))

  @tf.autograph.experimental.do_not_convert  # Graph code: see build_dataset.
  def number(state, batch):
    first, offset = state
    records, last = batch
    lengths = tf.cast(tf.strings.length(records), tf.int64) + (
        _RECORD_OVERHEAD)
    ends = offset + tf.cumsum(lengths)
    indices = first + tf.range(tf.size(records, out_type=tf.int64))
    # The marker (last of the last batch) starts at the bytes read.
    starts = ends - lengths
    stops = tf.where(last, tf.where(tf.equal(starts, size),
                                    tf.fill(tf.shape(starts), tf.constant(_FILE_END, tf.int64)),
                                    starts),
                     tf.fill(tf.shape(starts), tf.constant(_RECORD, tf.int64)))
    return (indices[-1] + 1, ends[-1]), {
        'file': tf.fill(tf.shape(indices), file_id), 'index': indices,
        'record': records, 'stop': stops}

  zero = tf.constant(0, tf.int64)
  return marked.batch(_READ_BATCH).scan((zero, zero), number).unbatch()


def _number_with_predecessors(records):
  """Numbers the records ('seq') and gives each the file ids and indices of
  the _REMEMBERED records before it ('before_file', 'before_index', oldest
  first; file -1 before the first record). One call per _READ_BATCH
  records: a call per record would cost more than copying them."""

  @tf.autograph.experimental.do_not_convert  # Graph code: see build_dataset.
  def step(state, batch):
    seq, files, indices = state
    count = tf.size(batch['index'], out_type=tf.int64)
    files = tf.concat([files, batch['file']], 0)
    indices = tf.concat([indices, batch['index']], 0)
    # Row j: positions j .. j + _REMEMBERED - 1, the records before j.
    window = tf.range(count)[:, None] + tf.range(
        _REMEMBERED, dtype=tf.int64)[None, :]
    out = dict(batch, seq=seq + tf.range(count),
               before_file=tf.gather(files, window),
               before_index=tf.gather(indices, window))
    return (seq + count, files[-_REMEMBERED:], indices[-_REMEMBERED:]), out

  none = tf.fill([_REMEMBERED], tf.constant(-1, tf.int64))
  return records.batch(_READ_BATCH).scan(
      (tf.constant(0, tf.int64), none, none), step).unbatch()


class _BadRecordReports(object):
  """Names the bad records of the files `names` (of `sizes` bytes), whose
  labels must lie in [0, num_labels): fails on the first, or, given a
  SkippedRecords, notes them all.

  It runs in Python, called from the graph only for a batch that holds a
  bad record: built as graph ops, the reports made every input pipeline
  take 0.7 CPU-seconds longer to build and start, for a path good data
  never takes.
  """

  # The fields of a batch of records that a report reads.
  FIELDS = ('file', 'index', 'stop', 'label', 'before_file', 'before_index')

  def __init__(self, names, sizes, num_labels, labels_offset, skipped):
    self.names, self.sizes = names, sizes
    self.num_labels = num_labels
    self._labels_offset = labels_offset
    self._skipped = skipped

  def op(self, batch, missing, fine, label_ok):
    """An op that reports the problems of each record of `batch` not
    `fine` (its missing predecessors, a file read short, its label), one
    record after the other in stream order, so the first is the one
    named."""
    return tf.numpy_function(
        tf.autograph.experimental.do_not_convert(self._report_batch),
        [batch[k] for k in self.FIELDS] + [missing, fine, label_ok],
        tf.bool, stateful=True, name='report_bad_records')

  def _report_batch(self, *arrays):
    records = dict(zip(self.FIELDS, arrays))
    missing, fine, label_ok = arrays[len(self.FIELDS):]
    for i in np.flatnonzero(np.logical_not(fine)):
      record = {k: v[i] for k, v in records.items()}
      if missing[i]:
        self._report(BAD_DATA, *self._missing(record, int(missing[i])))
      if record['stop'] >= 0:
        self._report(BAD_FILE, *self._file_read_short(record))
      if not label_ok[i]:
        self._report(BAD_DATA, *self._label(record))
    return np.bool_(False)

  def _report(self, kind, files, indices, reasons, unnamed=0):
    """Fails naming the first record (or none: file '', record -1), or
    notes them all in the SkippedRecords."""
    if self._skipped is not None:
      self._skipped.add(files, indices, reasons, unnamed)
      return
    message = '%s: %s record %d: %s' % (
        kind, files[0] if files else '', indices[0] if indices else -1,
        reasons[0] if reasons else UNDECODABLE)
    # C-escaped, as a graph assertion prints a string (errors.ours undoes
    # it).
    raise ValueError(errors.OPEN + message.replace('\\', '\\\\').replace(
        '"', '\\"') + errors.CLOSE)

  def _missing(self, record, missing):
    """The `missing` records just before `record` (their decoding failed),
    as far as remembered; the rest are unnamed."""
    first = max(0, _REMEMBERED - missing)
    known = [(int(f), int(i)) for f, i in zip(
        record['before_file'][first:], record['before_index'][first:])
             if f >= 0]
    return ([self.names[f] for f, _ in known], [i for _, i in known],
            [UNDECODABLE] * len(known), missing - len(known))

  def _file_read_short(self, record):
    file_id = int(record['file'])
    return [self.names[file_id]], [int(record['index'])], [
        'truncated or corrupt at byte %d of %d; the rest of the file cannot '
        'be read' % (record['stop'], self.sizes[file_id])]

  def _label(self, record):
    label = int(record['label'])
    offset = self._labels_offset
    stored = (' (stored %d, --labels_offset=%d)' % (label + offset, offset)
              if offset else '')
    reason = ('negative label %d%s' % (label, stored) if label < 0 else
              'label out of range [0, %d): %d%s' % (self.num_labels, label,
                                                    stored))
    return [self.names[int(record['file'])]], [int(record['index'])], [
        reason]


def _skip_or_fail_bad_records(examples, reports):
  """Fails on (or skips) the bad records: those missing from `examples`
  (their decoding failed), the files that could not be read to their end
  (their marker, 'stop' >= 0) and the labels outside [0, num_labels), as
  `reports` (a _BadRecordReports) reports them. Drops the markers. Returns
  (image, label, no_usable_records) elements: a usable record, or, with
  no_usable_records True (for _fail_if_no_usable_records), a marker after
  _MAX_PASSES_WITHOUT_A_RECORD passes over the files without a usable
  record.

  The checks run on _READ_BATCH records at a time, so a batch with nothing
  wrong costs one call of a few vector ops (a call per record cost more
  than the rest of the bookkeeping); only a batch with a bad record reports
  its records one by one, in stream order.
  """
  limit = _MAX_PASSES_WITHOUT_A_RECORD * len(reports.names)

  @tf.autograph.experimental.do_not_convert  # Graph code: see build_dataset.
  def step(state, batch):
    expected, markers_since_used = state
    seq = batch['seq']
    missing = seq - tf.concat([[expected - 1], seq[:-1]], 0) - 1
    label = batch['label']
    is_record = tf.logical_and(batch['file'] >= 0,
                               tf.equal(batch['stop'], _RECORD))
    label_ok = tf.logical_or(tf.logical_not(is_record), tf.logical_and(
        label >= 0, label < reports.num_labels))
    fine = tf.logical_and(tf.logical_and(tf.equal(missing, 0),
                                         batch['stop'] < 0), label_ok)
    check = _unless(tf.reduce_all(fine), lambda: reports.op(
        batch, missing, fine, label_ok))
    keep = tf.logical_and(label_ok, is_record)
    markers = _markers_since_used(
        markers_since_used, keep, tf.logical_and(
            batch['file'] >= 0, tf.not_equal(batch['stop'], _RECORD)))
    no_usable_records = markers >= limit
    with tf.control_dependencies([check]):
      kept = tf.logical_or(keep, no_usable_records)
    mask = lambda t: tf.ragged.boolean_mask(t, kept) if isinstance(
        t, tf.RaggedTensor) else tf.boolean_mask(t, kept)
    return (seq[-1] + 1, markers[-1]), (
        mask(batch['image']), mask(label), mask(no_usable_records))

  start = (tf.constant(0, tf.int64), tf.constant(0, tf.int64))
  # Images of unknown size (decoded, before the cache) batch as ragged.
  return _densified(examples.ragged_batch(_READ_BATCH).scan(
      start, step).unbatch())


def _markers_since_used(before, keep, is_marker):
  """Per element of a batch: the file-end markers since the last usable
  record (`keep`), counting `before` from the batches before it. A usable
  record is never a marker, so it counts 0."""
  counts = tf.cumsum(tf.cast(is_marker, tf.int64))
  # Segment s >= 1 starts at the batch's s-th usable record; segment 0 is
  # what comes before the first one, and continues the count before it.
  segments = tf.cumsum(tf.cast(keep, tf.int64))
  at_keep = tf.math.unsorted_segment_max(
      tf.where(keep, counts, tf.fill(tf.shape(counts), counts.dtype.min)),
      segments, tf.size(keep, out_type=tf.int64) + 1)
  bases = tf.concat([[-before], at_keep[1:]], 0)
  return counts - tf.gather(bases, segments)


def _densified(examples):
  """`examples` with a ragged image (of unknown size, batched and unbatched)
  made a dense one again."""
  if not isinstance(examples.element_spec[0], tf.RaggedTensorSpec):
    return examples
  return examples.map(tf.autograph.experimental.do_not_convert(
      lambda image, label, no_usable_records: (
          image.to_tensor(), label, no_usable_records)))


def _fail_if_no_usable_records(no_usable_records, source):
  """An op that fails if any of `no_usable_records` (bool [n]) is set:
  _skip_or_fail_bad_records found no usable record in
  _MAX_PASSES_WITHOUT_A_RECORD passes over the files (`source`)."""
  # Failed after the scan of _skip_or_fail_bad_records, not in it: tf.data
  # reads on past an error, and a failed scan step would leave its state
  # behind, so the next step would report a good record as missing.
  return _unless(tf.logical_not(tf.reduce_any(no_usable_records)), lambda: (
      tf.debugging.Assert(False, [
          errors.OPEN + NO_RECORDS + ': %d passes over the %s gave no '
          'record to use: every record was skipped (see the warnings above)'
          ' or the files hold none; fix or convert the data again' % (
              _MAX_PASSES_WITHOUT_A_RECORD, source) + errors.CLOSE])))


@functools.lru_cache(maxsize=1)
def _blank_record():
  """A serialized Example any decoder of the standard keys decodes: a blank
  PNG (which decodes to any number of channels), label 0."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  return dataset_utils.image_to_tfexample(
      dataset_utils.encode_png(np.zeros([8, 8, 3], np.uint8)), b'png', 8, 8,
      0).SerializeToString()


def build_dataset(dataset, preprocess, batch_size, is_training, *,
                  num_readers=4, num_threads=4, labels_offset=0,
                  shuffle_buffer=2048, seed=None, num_epochs=None,
                  drop_remainder=None, skipped=None, encoded_images=False,
                  cache_images=False, input_threads=0):
  """Builds a tf.data.Dataset of (images, labels) batches.

  Args:
    dataset: a slim Dataset (data_sources, decoder, num_classes).
    preprocess: function uint8 image [H, W, C] -> float image [h, w, c]
      (with `encoded_images`, EncodedImage -> float image [h, w, c]).
    batch_size: images per batch.
    is_training: shuffle files and records, repeat forever (unless
      num_epochs), drop the last partial batch; otherwise read every record
      once, in file order, keeping the last partial batch.
    num_readers, num_threads: files read, and records decoded and
      preprocessed, in parallel.
    labels_offset: subtracted from every label.
    shuffle_buffer, seed: training's shuffle buffer, and its seed (None:
      different every run). num_epochs: training's passes (None: forever).
    drop_remainder: override of the partial-batch rule above.
    skipped: None: a bad record (in a file cut short, not parsed or
      decoded, or a label outside [0, num_classes - labels_offset)) fails
      the iterator naming the file, the record and the problem. A
      SkippedRecords: bad records are skipped, warned about, noted in it.
    encoded_images: give `preprocess` EncodedImages, so a JPEG is decoded
      only as far as it needs (its window, at a reduced scale).
    cache_images: training only: keep each image decoded whole in memory
      (the caller checks the split fits); epochs shuffle the kept images.
    input_threads: the input's own thread pool (0: TensorFlow's inter-op
      threads, shared with the step's ops).

  Returns:
    tf.data.Dataset of (images float32 [batch, h, w, c], labels int64).
  """
  names, sizes, source = _record_files(dataset)
  cache_images = cache_images and is_training
  deterministic = not is_training or seed is not None
  # With the cache, records are read once, in order (kept images shuffle).
  records = _read_records(names, sizes, shuffled=is_training and not
                          cache_images, num_readers=num_readers,
                          num_epochs=num_epochs, seed=seed,
                          shuffle_buffer=shuffle_buffer,
                          deterministic=deterministic)
  examples = _decoded_examples(
      records, decode_fn(dataset, labels_offset,
                         encoded=encoded_images and not cache_images),
      None if cache_images else preprocess, num_threads)
  examples = _skip_or_fail_bad_records(examples, _BadRecordReports(
      names, sizes, dataset.num_classes - labels_offset, labels_offset,
      skipped))
  drop_remainder = is_training if drop_remainder is None else drop_remainder
  if cache_images:
    batches = _cached_then_preprocessed(
        examples, preprocess, batch_size, drop_remainder,
        num_epochs=num_epochs, seed=seed, shuffle_buffer=shuffle_buffer,
        num_threads=num_threads, deterministic=deterministic)
  else:
    batches = examples.batch(batch_size, drop_remainder=drop_remainder)
  return _checked_batches(batches, source, deterministic, input_threads)


def _with_end_marker(records):
  """The records and a last marker (file -1), which names the records at
  the very end whose decoding fails: no record after them names them."""
  return records.concatenate(tf.data.Dataset.from_tensors({
      'file': tf.constant(-1, tf.int64), 'index': tf.constant(-1, tf.int64),
      'record': tf.constant(_blank_record()),
      'stop': tf.constant(_RECORD, tf.int64)}))


def _cached_then_preprocessed(examples, preprocess, batch_size,
                              drop_remainder, *, num_epochs, seed,
                              shuffle_buffer, num_threads, deterministic):
  """Batches of the decoded examples kept in memory, repeated, shuffled,
  and preprocessed anew each epoch."""
  examples = examples.cache().repeat(num_epochs).shuffle(
      shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
  return examples.map(
      tf.autograph.experimental.do_not_convert(
          lambda image, label, no_usable_records: (
              preprocess(image), label, no_usable_records)),
      num_parallel_calls=max(1, num_threads),
      deterministic=deterministic).batch(batch_size,
                                         drop_remainder=drop_remainder)


def _record_files(dataset):
  """(the record files' names, their sizes in bytes; a description of
  them for messages).

  Raises:
    UserError: no files, or all of them empty.
  """
  files = list_files(dataset)
  patterns = dataset.data_sources
  source = '%d record file(s) matching %s' % (len(files), ', '.join(
      [patterns] if isinstance(patterns, str) else patterns))
  file_sizes = [tf.io.gfile.stat(f).length for f in files]
  if not any(file_sizes):
    raise UserError('the %s are all empty (0 bytes): no records to read; '
                    'convert the dataset again (download_and_convert_data.py'
                    ' --overwrite)' % source)
  return files, file_sizes, source


def _read_records(names, sizes, *, shuffled, num_readers, num_epochs, seed,
                  shuffle_buffer, deterministic):
  """The records of the files, `num_readers` files at a time: in file
  order, or (`shuffled`) files and records shuffled and the files repeated
  `num_epochs` times (None: for ever), then an end marker where there is
  an end. Elements: _read_file's."""
  num_files = len(names)
  ids = tf.data.Dataset.from_tensor_slices(
      (tf.range(num_files, dtype=tf.int64), tf.constant(sizes, tf.int64)))
  paths = tf.constant(names)
  if shuffled:
    ids = ids.shuffle(num_files, seed=seed, reshuffle_each_iteration=True)
    ids = ids.repeat(num_epochs)
  parallel = max(1, min(num_readers, num_files))
  # Graph code (see _decoded_examples): converting it cost each process
  # 0.3 s at its first training or evaluation graph.
  read = tf.autograph.experimental.do_not_convert(
      lambda file_id, size: _read_file(file_id, paths[file_id], size))
  records = ids.interleave(
      read, cycle_length=parallel, num_parallel_calls=parallel,
      deterministic=deterministic)
  if shuffled:
    records = records.shuffle(shuffle_buffer, seed=seed)
  if not shuffled or num_epochs is not None:
    records = _with_end_marker(records)
  return records


def _decoded_examples(records, decode, preprocess, num_threads):
  """The records decoded (and preprocessed, unless `preprocess` is None),
  each numbered with the records before it; a record whose decoding fails
  is dropped, to be named by the one after it."""

  # TF-Slim's decoders and preprocessing, and the record bookkeeping here,
  # are graph code (tf.cond, no Python control flow on tensors), so AutoGraph
  # has nothing to convert in them; converting them anyway took a quarter of
  # a run's start (cifarnet: graph built in 4.9 s with it, 3.8 s without it
  # here, 2 cores).
  @tf.autograph.experimental.do_not_convert
  def decode_and_preprocess(element):
    image, label = decode(element['record'])
    element = {k: v for k, v in element.items() if k != 'record'}
    if preprocess is not None:
      image = preprocess(image)
    return dict(element, image=image, label=label)

  # In order even when training unseeded: a record whose decoding fails is
  # dropped by ignore_errors() and named by the one after it.
  return _number_with_predecessors(records).map(
      decode_and_preprocess, num_parallel_calls=max(1, num_threads),
      deterministic=True).ignore_errors()


def _checked_batches(batches, source, deterministic, input_threads):
  """The batches as (images, labels), failing when the records hold no
  usable one (checked per batch, not per record: it saves a call per
  record)."""

  def checked(images, labels, no_usable_records):
    with tf.control_dependencies(
        [_fail_if_no_usable_records(no_usable_records, source)]):
      return tf.identity(images), labels

  batches = batches.map(tf.autograph.experimental.do_not_convert(checked))
  options = tf.data.Options()
  options.deterministic = deterministic
  # tf.data's autotuning thread made closing the session wait on it: a
  # distributed worker exited 18 s after its last step (2.4 s without it).
  # The parallelism here is set explicitly and the prefetch buffer still
  # adapts, so the speed holds (cifarnet on shapes, alternated runs on 2
  # cores: 246 images/s with it, 271 without).
  options.autotune.enabled = False
  if input_threads:
    options.threading.private_threadpool_size = input_threads
  return batches.with_options(options).prefetch(tf.data.AUTOTUNE)
