r"""Input throughput: our tf.data pipeline vs TF-Slim's queue-based reader.

Both read the same slim Dataset (file pattern, reader, decoder), apply the
same training preprocessing and batch; the figure is images per second
pulled by a loop that does nothing else, after a warm-up.

  python benchmarks/input_pipeline.py --dataset_name=satellite \
      --dataset_dir=/tmp/satellite --model_name=mobilenet_v1
"""

import argparse
import time

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.engines import pipeline
from slimvision.datasets import dataset_factory
from slimvision.nets import nets_factory
from slimvision.preprocessing import preprocessing_factory

PARSER = argparse.ArgumentParser(description=__doc__.splitlines()[0])
PARSER.add_argument('--dataset_name', type=str, default='satellite',
                    help='Dataset name.')
PARSER.add_argument('--dataset_split_name', type=str, default='train',
                    help='Split.')
PARSER.add_argument('--dataset_dir', type=str, default=None,
                    help='Converted dataset folder.')
PARSER.add_argument('--model_name', type=str, default='mobilenet_v1',
                    help='Sets size/preprocessing.')
PARSER.add_argument('--batch_size', type=int, default=32,
                    help='Images per batch.')
PARSER.add_argument('--num_readers', type=int, default=4,
                    help='Parallel readers (both pipelines).')
PARSER.add_argument('--num_preprocessing_threads', type=int, default=4,
                    help='Parallel preprocessing.')
PARSER.add_argument('--warmup_batches', type=int, default=10,
                    help='Batches not timed.')
PARSER.add_argument('--batches', type=int, default=60, help='Batches timed.')


def _preprocess():
  size = nets_factory.get_network_fn(ARGS.model_name, 2).default_image_size
  fn = preprocessing_factory.get_preprocessing(ARGS.model_name,
                                               is_training=True)
  return lambda image: fn(image, size, size)


def _time(session, tensor):
  for _ in range(ARGS.warmup_batches):
    session.run(tensor)
  start = time.time()
  for _ in range(ARGS.batches):
    session.run(tensor)
  return ARGS.batches * ARGS.batch_size / (time.time() - start)


def tf_data_rate():
  with tf.Graph().as_default():
    dataset = dataset_factory.get_dataset(
        ARGS.dataset_name, ARGS.dataset_split_name, ARGS.dataset_dir)
    batches = pipeline.build_dataset(
        dataset, _preprocess(), ARGS.batch_size, is_training=True,
        num_readers=ARGS.num_readers,
        num_threads=ARGS.num_preprocessing_threads)
    images, _ = tf.data.make_one_shot_iterator(batches).get_next()
    with tf.Session() as session:
      return _time(session, images)


def queue_rate():
  """TF-Slim's DatasetDataProvider + tf.train.batch, as its scripts did."""
  with tf.Graph().as_default():
    dataset = dataset_factory.get_dataset(
        ARGS.dataset_name, ARGS.dataset_split_name, ARGS.dataset_dir)
    provider = slim.dataset_data_provider.DatasetDataProvider(
        dataset, num_readers=ARGS.num_readers,
        common_queue_capacity=20 * ARGS.batch_size,
        common_queue_min=10 * ARGS.batch_size)
    image, label = provider.get(['image', 'label'])
    image = _preprocess()(image)
    images, _ = tf.train.batch(
        [image, label], batch_size=ARGS.batch_size,
        num_threads=ARGS.num_preprocessing_threads,
        capacity=5 * ARGS.batch_size)
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


def main():
  print('%s/%s, %s preprocessing, batch %d, %d readers, %d threads' % (
      ARGS.dataset_name, ARGS.dataset_split_name, ARGS.model_name,
      ARGS.batch_size, ARGS.num_readers, ARGS.num_preprocessing_threads))
  queue = queue_rate()
  print('queue-based DatasetDataProvider: %8.1f images/sec' % queue)
  ours = tf_data_rate()
  print('tf.data pipeline:                %8.1f images/sec' % ours)
  print('ratio tf.data / queue:           %8.2f' % (ours / queue))


if __name__ == '__main__':
  ARGS = PARSER.parse_args()
  tf.disable_eager_execution()  # TF-Slim's queue reader is TF1 code.
  main()
