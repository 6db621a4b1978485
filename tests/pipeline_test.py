"""The tf.data input pipeline over a slim Dataset."""

import os

import numpy as np
from PIL import Image
import pytest
import tensorflow.compat.v1 as tf

from slimvision.engines import pipeline
from slimvision.datasets import dataset_factory
from slimvision.datasets import image_folder


def _batches(dataset, is_training, batch_size, count=None, **kwargs):
  with tf.Graph().as_default():
    batches = pipeline.build_dataset(
        dataset, lambda image: tf.image.resize(image, [8, 8]), batch_size,
        is_training, seed=0, **kwargs)
    images, labels = tf.data.make_one_shot_iterator(batches).get_next()
    out = []
    with tf.Session() as sess:
      while count is None or len(out) < count:
        try:
          out.append(sess.run([images, labels]))
        except tf.errors.OutOfRangeError:
          break
  return out


def test_eval_reads_every_example_once_with_the_partial_batch(shapes_dir):
  dataset = dataset_factory.get_dataset('shapes', 'validation', shapes_dir)
  batches = _batches(dataset, is_training=False, batch_size=5)
  assert [len(labels) for _, labels in batches] == [5, 5, 2]
  labels = np.concatenate([labels for _, labels in batches])
  np.testing.assert_array_equal(np.bincount(labels), [2] * 6)
  assert batches[0][0].shape == (5, 8, 8, 3)


def test_training_repeats_shuffles_and_drops_the_remainder(shapes_dir):
  dataset = dataset_factory.get_dataset('shapes', 'train', shapes_dir)
  batches = _batches(dataset, is_training=True, batch_size=7, count=20)
  assert all(len(labels) == 7 for _, labels in batches)
  labels = np.concatenate([labels for _, labels in batches])
  assert set(labels) == set(range(6))
  first_pass = labels[:48]
  assert not np.all(np.diff(first_pass) >= 0)  # Shuffled, not class order.


def test_labels_offset_is_subtracted(shapes_dir):
  dataset = dataset_factory.get_dataset('shapes', 'validation', shapes_dir)
  plain = np.concatenate([l for _, l in _batches(dataset, False, 12)])
  with pytest.raises(tf.errors.InvalidArgumentError, match='negative label'):
    _batches(dataset, False, 12, labels_offset=1)
  assert plain.min() == 0


def test_a_label_out_of_range_is_a_clear_error(tmp_path):
  for name in ('a', 'b'):
    os.makedirs(tmp_path / 'src' / name)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(
        tmp_path / 'src' / name / '0.png')
  image_folder.convert('x', str(tmp_path / 'src'), str(tmp_path / 'out'),
                       validation_fraction=0, log=lambda *_: None)
  dataset = dataset_factory.get_dataset('x', 'train', str(tmp_path / 'out'))
  dataset.num_classes = 1  # As if labels.txt listed one class only.
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'label out of range \[0, 1\)'):
    _batches(dataset, False, 2)


def test_missing_files_are_a_user_error(shapes_dir):
  dataset = dataset_factory.get_dataset('shapes', 'validation', shapes_dir)
  dataset.data_sources = os.path.join(shapes_dir, 'nothing_*.tfrecord')
  with pytest.raises(ValueError, match='No record files match'):
    pipeline.list_files(dataset)
