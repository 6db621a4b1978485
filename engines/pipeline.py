"""The tf.data input pipeline built from a slim Dataset.

It reads the same things TF-Slim's queue-based DatasetDataProvider read (the
Dataset's file pattern, reader and decoder) with tf.data: files interleaved
in parallel, records decoded and preprocessed in parallel, shuffled, batched
and prefetched, so the model never waits on input.
"""

import glob

import tensorflow.compat.v1 as tf

from slimvision.core.errors import UserError


def _record_dataset(files):
  return tf.data.TFRecordDataset(files, buffer_size=8 << 20)


def list_files(dataset):
  """The record files of a slim Dataset (sorted), or a UserError."""
  patterns = dataset.data_sources
  if isinstance(patterns, str):
    patterns = [patterns]
  files = sorted(f for p in patterns for f in glob.glob(p))
  if not files:
    raise UserError('No record files match %s' % ', '.join(patterns))
  return files


def decode_fn(dataset, labels_offset=0):
  """Returns serialized Example -> (uint8 image [H, W, C], int64 label).

  The label has `labels_offset` subtracted and is checked to lie in
  [0, num_classes - labels_offset): a record with a label out of range fails
  with an InvalidArgumentError naming the label and the range.
  """
  num_labels = dataset.num_classes - labels_offset

  def decode(serialized):
    image, label = dataset.decoder.decode(serialized, ['image', 'label'])
    label = tf.cast(tf.reshape(label, []), tf.int64) - labels_offset
    check = tf.debugging.assert_less(
        label, tf.constant(num_labels, tf.int64),
        message='label out of range [0, %d) (after --labels_offset=%d)' %
        (num_labels, labels_offset))
    check_positive = tf.debugging.assert_non_negative(
        label, message='negative label (after --labels_offset=%d)' %
        labels_offset)
    with tf.control_dependencies([check, check_positive]):
      return tf.identity(image), tf.identity(label)

  return decode


def build_dataset(dataset, preprocess, batch_size, is_training,
                  num_readers=4, num_threads=4, labels_offset=0,
                  shuffle_buffer=2048, seed=None, num_epochs=None,
                  drop_remainder=None):
  """Builds a tf.data.Dataset of (images, labels) batches.

  Args:
    dataset: a slim Dataset (data_sources, decoder, num_classes).
    preprocess: function uint8 image [H, W, C] -> float image [h, w, c].
    batch_size: images per batch.
    is_training: shuffle files and records, repeat forever (unless
      num_epochs), drop the last partial batch; otherwise read every record
      exactly once, in file order, keeping the last partial batch.
    num_readers: record files read in parallel.
    num_threads: parallel decode + preprocessing calls.
    labels_offset: subtracted from every label.
    shuffle_buffer: records in the shuffle buffer (training only).
    seed: shuffling seed (None: different every run).
    num_epochs: passes over the data in training (None: forever).
    drop_remainder: override of the partial-batch rule above.

  Returns:
    tf.data.Dataset yielding (images float32 [batch, h, w, c],
    labels int64 [batch]).
  """
  files = list_files(dataset)
  records = tf.data.Dataset.from_tensor_slices(files)
  if is_training:
    records = records.shuffle(len(files), seed=seed,
                              reshuffle_each_iteration=True)
    records = records.repeat(num_epochs)
    options = tf.data.Options()
    options.deterministic = seed is not None
  records = records.interleave(
      _record_dataset, cycle_length=max(1, min(num_readers, len(files))),
      num_parallel_calls=max(1, min(num_readers, len(files))),
      deterministic=not is_training or seed is not None)
  if is_training:
    records = records.shuffle(shuffle_buffer, seed=seed)
  decode = decode_fn(dataset, labels_offset)

  def decode_and_preprocess(serialized):
    image, label = decode(serialized)
    return preprocess(image), label

  examples = records.map(decode_and_preprocess,
                         num_parallel_calls=max(1, num_threads),
                         deterministic=not is_training or seed is not None)
  if drop_remainder is None:
    drop_remainder = is_training
  batches = examples.batch(batch_size, drop_remainder=drop_remainder)
  if is_training:
    batches = batches.with_options(options)
  return batches.prefetch(tf.data.AUTOTUNE)
