r"""Input cost per stage: our tf.data pipeline vs TF-Slim's queue reader.

For each preprocessing family at an image size, both pipelines read the same
slim Dataset (file pattern, reader, decoder), apply the same training
preprocessing and batch. Each is measured cut after each stage in turn, so
a stage's cost is the difference between two cuts:
  read + parse   the records read (parallel readers) and their Examples
                 parsed, the image still encoded;
  bookkeeping    ours only: each record's file and index, kept to name a bad
                 record, and the checks (TF-Slim has none);
  decode         the JPEG decoded (ours: --jpeg_decode's way; partial
                 decodes only the crop window, at a reduced scale);
  crop + resize  the random crop and the resize to the output size;
  distortions    flip, colour (and the family's final scaling).
The figure is CPU-seconds per image (user + sys of this process, all its
threads, divided by the images pulled), from a loop that pulls batches as
fast as they come, after a warm-up; images per CPU-second is its inverse.

  python benchmarks/input_pipeline.py --dataset_dir=/tmp/satellite
  python benchmarks/input_pipeline.py --dataset_dir=/tmp/satellite \
      --families=inception@128 --pipelines=ours,queue
"""

import argparse
import os
import sys
import time

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.datasets import dataset_factory
from slimvision.engines import pipeline
from slimvision.preprocessing import cifarnet_preprocessing
from slimvision.preprocessing import encoded_image
from slimvision.preprocessing import inception_preprocessing
from slimvision.preprocessing import preprocessing_factory
import train_throughput  # This folder's: its lscpu reading.

STAGES = ('read + parse', 'bookkeeping', 'decode', 'crop + resize',
          'distortions')
PIPELINES = {
    'cached': 'tf.data, the decoded images cached (the default where the '
              'split fits in a quarter of the free memory): after the first '
              'epoch, reading, bookkeeping and decoding cost nothing; its '
              'decode row is the cost of replaying the kept images',
    'partial': 'tf.data, --image_cache_mb=0, --jpeg_decode=partial',
    'whole': 'tf.data, --image_cache_mb=0, --jpeg_decode=whole',
    'queue': "TF-Slim's DatasetDataProvider + tf.train.batch",
}

PARSER = argparse.ArgumentParser(description=__doc__.splitlines()[0])
PARSER.add_argument('--dataset_name', default='satellite',
                    help='Converted dataset to read.')
PARSER.add_argument('--dataset_dir', default=None,
                    help='Its folder (download_and_convert_data.py output).')
PARSER.add_argument('--families', default='cifarnet@32,inception@128,'
                    'inception@299',
                    help='Comma-separated preprocessing family@image size.')
PARSER.add_argument('--pipelines', default='cached,partial,whole,queue',
                    help='Which of %s to measure.' % ', '.join(PIPELINES))
PARSER.add_argument('--batch_size', type=int, default=32,
                    help='Images per batch.')
PARSER.add_argument('--num_readers', type=int, default=4,
                    help='Parallel readers (both pipelines).')
PARSER.add_argument('--num_preprocessing_threads', type=int, default=4,
                    help='Parallel preprocessing (both pipelines).')
PARSER.add_argument('--warmup_batches', type=int, default=10,
                    help='Batches not measured.')
PARSER.add_argument('--images', type=int, default=3200,
                    help='Images measured per cut.')


# Each family's training preprocessing, cut after a stage: a function
# (image, size) -> a small Tensor that needs the stage's work done. `image`
# is uint8 [h, w, c] decoded whole, or an EncodedImage (--jpeg_decode
# partial), which decodes in the crop stage's window.


def _touch(image):
  """A small tensor that depends on every pixel's having been computed."""
  return tf.reshape(tf.cast(image[0, 0, 0], tf.float32), [1])


def _inception_cut(stage, image, size):
  """inception_preprocessing.preprocess_for_train, cut after `stage`."""
  if stage == 'distortions':
    return inception_preprocessing.preprocess_for_train(
        image, size, size, add_image_summaries=False)
  if isinstance(image, encoded_image.EncodedImage):
    # Partial decode: the crop is where it decodes; 'decode' takes the
    # same window (the crop stage adds only the resize).
    bbox = tf.constant([0.0, 0.0, 1.0, 1.0], tf.float32, [1, 1, 4])
    image = inception_preprocessing._decode_for_train(  # pylint: disable=protected-access
        image, size, size, bbox, True, inception_preprocessing.MIN_CROP_AREA)
    if stage == 'decode':
      return _touch(image)
  elif stage == 'decode':
    return _touch(image)
  else:
    bbox = tf.constant([0.0, 0.0, 1.0, 1.0], tf.float32, [1, 1, 4])
    image, _ = inception_preprocessing.distorted_bounding_box_crop(
        tf.image.convert_image_dtype(image, tf.float32), bbox)
  return _touch(tf.image.resize_images(image, [size, size]))


def _cifarnet_cut(stage, image, size):
  """cifarnet_preprocessing.preprocess_for_train, cut after `stage`."""
  if stage == 'distortions':
    return cifarnet_preprocessing.preprocess_for_train(
        image, size, size, add_image_summaries=False)
  if stage == 'decode' and not isinstance(image, encoded_image.EncodedImage):
    return _touch(image)
  # Partial decode: only the crop window is decoded; pixels: the window is
  # cut before the float conversion.
  return _touch(tf.cast(cifarnet_preprocessing._random_padded_crop(  # pylint: disable=protected-access
      image, size, size, 4), tf.float32))


CUTS = {'inception': _inception_cut, 'cifarnet': _cifarnet_cut}


def _dataset():
  return dataset_factory.get_dataset(ARGS.dataset_name, 'train',
                                     ARGS.dataset_dir)


def _cpu_seconds_per_image(session, tensor, warmup_batches):
  """CPU-seconds (user + sys, whole process) per image, and images/sec."""
  for _ in range(warmup_batches):
    session.run(tensor)
  batches = max(1, ARGS.images // ARGS.batch_size)
  cpu, wall = time.process_time(), time.time()
  for _ in range(batches):
    session.run(tensor)
  images = batches * ARGS.batch_size
  return ((time.process_time() - cpu) / images,
          images / (time.time() - wall))


def _plain_read(dataset):
  """Records read by parallel readers and parsed, the image not decoded:
  the pipeline without its bookkeeping."""
  files = tf.data.Dataset.from_tensor_slices(pipeline.list_files(dataset))
  records = files.repeat().interleave(
      tf.data.TFRecordDataset, cycle_length=ARGS.num_readers,
      num_parallel_calls=ARGS.num_readers)
  labels = records.map(
      lambda record: dataset.decoder.decode(record, ['encoded', 'label']),
      num_parallel_calls=ARGS.num_preprocessing_threads)
  return labels.batch(ARGS.batch_size).prefetch(2)


def ours(cut, stage, name):
  """(CPU-s per image, images/sec) of our pipeline `name` (cached, partial
  or whole) cut after `stage`."""
  with tf.Graph().as_default():
    dataset = _dataset()
    warmup = ARGS.warmup_batches
    if name == 'cached':
      # The cache fills during the first epoch: measure after it.
      warmup += dataset.num_samples // ARGS.batch_size
      if stage in ('read + parse', 'bookkeeping', 'decode'):
        stage = 'decode'  # Replaying the kept images.
    if stage == 'read + parse':
      batches = _plain_read(dataset)
    else:
      preprocess = ((lambda image: tf.zeros([1])) if stage == 'bookkeeping'
                    else lambda image: cut(stage, image))
      batches = pipeline.build_dataset(
          dataset, preprocess, ARGS.batch_size, is_training=True,
          num_readers=ARGS.num_readers,
          num_threads=ARGS.num_preprocessing_threads,
          encoded_images=name == 'partial' or stage == 'bookkeeping',
          cache_images=name == 'cached')
    element = tf.data.make_one_shot_iterator(batches).get_next()
    with tf.Session() as session:
      return _cpu_seconds_per_image(session, element, warmup)


def queue(cut, stage):
  """(CPU-s per image, images/sec) of TF-Slim's DatasetDataProvider and
  tf.train.batch, as its train_image_classifier.py used them, cut after
  `stage` (read + parse: the parallel reader and a label-only decode)."""
  with tf.Graph().as_default():
    dataset = _dataset()
    if stage == 'read + parse':
      _, record = slim.parallel_reader.parallel_read(
          dataset.data_sources, dataset.reader,
          num_readers=ARGS.num_readers)
      [label] = dataset.decoder.decode(record, ['label'])
      output = tf.reshape(tf.cast(label, tf.float32), [1])
    else:
      provider = slim.dataset_data_provider.DatasetDataProvider(
          dataset, num_readers=ARGS.num_readers,
          common_queue_capacity=20 * ARGS.batch_size,
          common_queue_min=10 * ARGS.batch_size)
      [image] = provider.get(['image'])
      output = cut(stage, image)
    batch = tf.train.batch([output], batch_size=ARGS.batch_size,
                           num_threads=ARGS.num_preprocessing_threads,
                           capacity=5 * ARGS.batch_size)
    with tf.Session() as session:
      session.run(tf.local_variables_initializer())
      coord = tf.train.Coordinator()
      threads = tf.train.start_queue_runners(session, coord)
      try:
        return _cpu_seconds_per_image(session, batch, ARGS.warmup_batches)
      finally:
        coord.request_stop()
        coord.join(threads, stop_grace_period_secs=5)


def measure(family, size, name):
  """{stage: (cumulative CPU-s per image, images/sec)} of one pipeline."""
  cut = lambda stage, image: CUTS[family](stage, image, size)
  results = {}
  for stage in STAGES:
    if name == 'queue':
      if stage == 'bookkeeping':
        continue  # TF-Slim keeps none.
      results[stage] = queue(cut, stage)
    elif name == 'cached' and stage in ('read + parse', 'bookkeeping'):
      continue  # Measured with decode: replaying the cache.
    else:
      results[stage] = ours(cut, stage, name)
    print('  %s %s@%d %s: %.3f ms CPU/image' % (
        name, family, size, stage, 1e3 * results[stage][0]),
          file=sys.stderr, flush=True)
  return results


def print_table(family, size, results):
  """One table: per stage, each pipeline's CPU-ms per image."""
  names = list(results)
  print('\n%s preprocessing @%d px, batch %d, %d readers, %d threads' % (
      family, size, ARGS.batch_size, ARGS.num_readers,
      ARGS.num_preprocessing_threads))
  print('%-22s' % 'CPU-ms per image' + ''.join('%12s' % n for n in names))
  previous = {n: 0.0 for n in names}
  for stage in STAGES:
    row = '%-22s' % stage
    for name in names:
      if stage not in results[name]:
        row += '%12s' % '-'
        continue
      cumulative = results[name][stage][0]
      row += '%12.3f' % (1e3 * (cumulative - previous[name]))
      previous[name] = cumulative
    print(row)
  print('%-22s' % 'total' + ''.join(
      '%12.3f' % (1e3 * results[n]['distortions'][0]) for n in names))
  print('%-22s' % 'images per CPU-second' + ''.join(
      '%12.0f' % (1 / results[n]['distortions'][0]) for n in names))
  print('%-22s' % 'images/sec (2 cores)' + ''.join(
      '%12.0f' % results[n]['distortions'][1] for n in names))
  if 'queue' in results:
    base = 1 / results['queue']['distortions'][0]
    print('%-22s' % 'vs queue (img/CPU-s)' + ''.join(
        '%12.2f' % (1 / results[n]['distortions'][0] / base) for n in names))


def main():
  model, flags = train_throughput.cpu_description()
  print('CPU: %s; %d cores; flags: %s' % (model, os.cpu_count(),
                                          ' '.join(flags)))
  for name in ARGS.pipelines.split(','):
    print('  %-8s %s' % (name, PIPELINES[name]))
  for text in ARGS.families.split(','):
    family, size = text.split('@')
    family = preprocessing_factory.family(family)
    if family not in CUTS:
      raise SystemExit('error: --families: %s has no cuts here; valid: %s'
                       % (family, ', '.join(CUTS)))
    results = {name: measure(family, int(size), name)
               for name in ARGS.pipelines.split(',')}
    print_table(family, int(size), results)


if __name__ == '__main__':
  ARGS = PARSER.parse_args()
  if not ARGS.dataset_dir:
    raise SystemExit('error: --dataset_dir is needed (a converted dataset)')
  tf.disable_eager_execution()  # TF-Slim's queue reader is TF1 code.
  tf.logging.set_verbosity(tf.logging.ERROR)  # Its deprecation notes.
  main()
