r"""Input throughput: our tf.data pipeline vs TF-Slim's queue-based reader.

Both read the same slim Dataset (file pattern, reader, decoder), apply the
same training preprocessing and batch; the figure is images per second
pulled by a loop that does nothing else, after a warm-up.

  python benchmarks/input_pipeline.py --dataset_name=satellite \
      --dataset_dir=/tmp/satellite --model_name=mobilenet_v1
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _checkout  # noqa: E402,F401

from absl import app, flags  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402
import tf_slim as slim  # noqa: E402

from slimvision.core import pipeline  # noqa: E402
from slimvision.datasets import dataset_factory  # noqa: E402
from slimvision.nets import nets_factory  # noqa: E402
from slimvision.preprocessing import preprocessing_factory  # noqa: E402

flags.DEFINE_string('dataset_name', 'satellite', 'Dataset name.')
flags.DEFINE_string('dataset_split_name', 'train', 'Split.')
flags.DEFINE_string('dataset_dir', None, 'Converted dataset folder.')
flags.DEFINE_string('model_name', 'mobilenet_v1', 'Sets size/preprocessing.')
flags.DEFINE_integer('batch_size', 32, 'Images per batch.')
flags.DEFINE_integer('num_readers', 4, 'Parallel readers (both pipelines).')
flags.DEFINE_integer('num_preprocessing_threads', 4, 'Parallel preprocessing.')
flags.DEFINE_integer('warmup_batches', 10, 'Batches not timed.')
flags.DEFINE_integer('batches', 60, 'Batches timed.')
FLAGS = flags.FLAGS


def _preprocess():
  size = nets_factory.get_network_fn(FLAGS.model_name, 2).default_image_size
  fn = preprocessing_factory.get_preprocessing(FLAGS.model_name,
                                               is_training=True)
  return lambda image: fn(image, size, size)


def _time(session, tensor):
  for _ in range(FLAGS.warmup_batches):
    session.run(tensor)
  start = time.time()
  for _ in range(FLAGS.batches):
    session.run(tensor)
  return FLAGS.batches * FLAGS.batch_size / (time.time() - start)


def tf_data_rate():
  with tf.Graph().as_default():
    dataset = dataset_factory.get_dataset(
        FLAGS.dataset_name, FLAGS.dataset_split_name, FLAGS.dataset_dir)
    batches = pipeline.build_dataset(
        dataset, _preprocess(), FLAGS.batch_size, is_training=True,
        num_readers=FLAGS.num_readers,
        num_threads=FLAGS.num_preprocessing_threads)
    images, _ = tf.data.make_one_shot_iterator(batches).get_next()
    with tf.Session() as session:
      return _time(session, images)


def queue_rate():
  """TF-Slim's DatasetDataProvider + tf.train.batch, as its scripts did."""
  with tf.Graph().as_default():
    dataset = dataset_factory.get_dataset(
        FLAGS.dataset_name, FLAGS.dataset_split_name, FLAGS.dataset_dir)
    provider = slim.dataset_data_provider.DatasetDataProvider(
        dataset, num_readers=FLAGS.num_readers,
        common_queue_capacity=20 * FLAGS.batch_size,
        common_queue_min=10 * FLAGS.batch_size)
    image, label = provider.get(['image', 'label'])
    image = _preprocess()(image)
    images, _ = tf.train.batch(
        [image, label], batch_size=FLAGS.batch_size,
        num_threads=FLAGS.num_preprocessing_threads,
        capacity=5 * FLAGS.batch_size)
    with tf.Session() as session:
      session.run([tf.global_variables_initializer(),
                   tf.local_variables_initializer()])
      coord = tf.train.Coordinator()
      threads = tf.train.start_queue_runners(session, coord)
      try:
        return _time(session, images)
      finally:
        coord.request_stop()
        coord.join(threads, stop_grace_period_secs=5)


def main(_):
  print('%s/%s, %s preprocessing, batch %d, %d readers, %d threads' % (
      FLAGS.dataset_name, FLAGS.dataset_split_name, FLAGS.model_name,
      FLAGS.batch_size, FLAGS.num_readers, FLAGS.num_preprocessing_threads))
  queue = queue_rate()
  print('queue-based DatasetDataProvider: %8.1f images/sec' % queue)
  ours = tf_data_rate()
  print('tf.data pipeline:                %8.1f images/sec' % ours)
  print('ratio tf.data / queue:           %8.2f' % (ours / queue))


if __name__ == '__main__':
  app.run(main)
