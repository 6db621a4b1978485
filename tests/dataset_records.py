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
