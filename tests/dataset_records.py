"""Test helpers: decode the records of a converted split with TensorFlow.

Not a test module (no `_test` suffix); imported by the dataset tests.
"""

import glob

import tensorflow.compat.v1 as tf


def decode_split(get_split, items=('image', 'label')):
  """Decodes every record of a split through its dataset's own decoder.

  Args:
    get_split: function returning the slim Dataset; it is called inside a
      fresh graph, since decoders hold graph tensors.
    items: decoder items to fetch.

  Returns:
    (the Dataset, [dict item -> numpy value] in file-then-record order).
  """
  with tf.Graph().as_default():
    dataset = get_split()
    serialized = tf.placeholder(tf.string, [])
    tensors = dataset.decoder.decode(serialized, list(items))
    records = []
    with tf.Session() as sess:
      for path in sorted(glob.glob(dataset.data_sources)):
        for record in tf.io.tf_record_iterator(path):
          records.append(dict(zip(items, sess.run(
              tensors, {serialized: record}))))
  return dataset, records


def parse_examples(paths):
  """tf.train.Example protos of every record in `paths` (no graph)."""
  examples = []
  for path in sorted(paths):
    for record in tf.io.tf_record_iterator(path):
      examples.append(tf.train.Example.FromString(record))
  return examples


def int_values(example, key):
  return list(example.features.feature[key].int64_list.value)


def float_values(example, key):
  return list(example.features.feature[key].float_list.value)


def bytes_values(example, key):
  return list(example.features.feature[key].bytes_list.value)


# ----------------------------------------------------------------------------
# Corrupting a converted dataset, as disks and converters do.


def record_file(folder, split, index, name='shapes', num_shards=2):
  """The path of record file `index` of a split, as converters name it."""
  import os  # pylint: disable=g-import-not-at-top
  return os.path.join(folder, '%s_%s_%05d-of-%05d.tfrecord' % (
      name, split, index, num_shards))


def copy_dataset(source_dir, dest_dir):
  """Copies a converted dataset's files (records, labels, spec) to dest_dir;
  returns dest_dir."""
  import os  # pylint: disable=g-import-not-at-top
  import shutil  # pylint: disable=g-import-not-at-top
  os.makedirs(dest_dir, exist_ok=True)
  for name in os.listdir(source_dir):
    path = os.path.join(source_dir, name)
    if os.path.isfile(path):
      shutil.copy(path, dest_dir)
  return dest_dir


def record_offsets(path):
  """The byte offset where each record of a TFRecord file starts."""
  offsets = []
  offset = 0
  for record in tf.io.tf_record_iterator(path):
    offsets.append(offset)
    offset += len(record) + 16  # Length, its CRC, the data, its CRC.
  return offsets


def truncate_in_record(path, index):
  """Cuts the file 10 bytes into record `index`; returns (where that record
  starts, the new size in bytes)."""
  start = record_offsets(path)[index]
  with open(path, 'r+b') as f:
    f.truncate(start + 10)
  return start, start + 10


def edit_record(path, index, edit):
  """Rewrites the file with record `index` replaced by edit(Example)."""
  records = list(tf.io.tf_record_iterator(path))
  example = tf.train.Example.FromString(records[index])
  edit(example)
  records[index] = example.SerializeToString()
  with tf.io.TFRecordWriter(path) as writer:
    for record in records:
      writer.write(record)


def garbage_jpeg(example):
  """Edit: a JPEG header and then garbage as the image."""
  example.features.feature['image/encoded'].bytes_list.value[:] = [
      b'\xff\xd8\xff\xe0' + b'not a jpeg' * 20]
  example.features.feature['image/format'].bytes_list.value[:] = [b'jpeg']


def label(value):
  """Edit: the label `value`."""
  def edit(example):
    example.features.feature['image/class/label'].int64_list.value[:] = [
        value]
  return edit
