"""Partial JPEG decoding: EncodedImage, the families' use of it, the pipeline.

The partial decodes are checked against a whole decode followed by the same
crop or resize. Tolerances, in 0-255 levels (measured: see each test):
  - a crop window: at most 3 levels anywhere (libjpeg upsamples the chroma
    planes at the window's edges from fewer neighbours);
  - a 1/2, 1/4 or 1/8 scale decode against an area resize of the whole
    decode: at most 2.5 levels on average (measured 1.8 and 1.6);
  - a family's eval output from an EncodedImage against its output from
    the decoded image: at most 3% of the output's range on average
    (measured: cifarnet and lenet 0.01%, crops only; inception 1.0%; vgg
    2.5%, where a bilinear resize to less than half size skips pixels that
    the DCT-scaled decode averages).
PNG images take the dataset's own decode and match exactly.
"""

import io
import os

import numpy as np
from PIL import Image
import pytest
import tensorflow.compat.v1 as tf

from slimvision.datasets import dataset_factory
from slimvision.datasets import image_folder
from slimvision.engines import pipeline
from slimvision.preprocessing import cifarnet_preprocessing
from slimvision.preprocessing import encoded_image
from slimvision.preprocessing import preprocessing_factory

HEIGHT, WIDTH = 75, 100  # Not multiples of 8: the scaled sizes round up.


def _pixels(height=HEIGHT, width=WIDTH, seed=0):
  """A smooth RGB image (gradients and a disc) with a little noise."""
  y, x = np.mgrid[0:height, 0:width].astype(np.float32)
  disc = ((y - height / 2) ** 2 + (x - width / 3) ** 2) < (height / 4) ** 2
  image = np.stack([x / width * 255, y / height * 255,
                    np.where(disc, 220.0, 40.0) + 5 * seed], -1)
  image += np.random.RandomState(seed).normal(0, 4, image.shape)
  return np.clip(image, 0, 255).astype(np.uint8)


def _encode(pixels, image_format):
  out = io.BytesIO()
  Image.fromarray(pixels).save(out, format=image_format, quality=95)
  return out.getvalue()


JPEG = _encode(_pixels(), 'JPEG')
PNG = _encode(_pixels(), 'PNG')


def _run(fetch_fn, data, seed=None):
  """fetch_fn(EncodedImage) -> Tensors, run in a fresh graph on `data`."""
  with tf.Graph().as_default():
    if seed is not None:
      tf.set_random_seed(seed)
    encoded = tf.constant(data)
    image = encoded_image.EncodedImage(
        encoded, 3, lambda: tf.io.decode_image(encoded, channels=3,
                                               expand_animations=False))
    with tf.Session() as session:
      return session.run(fetch_fn(image))


def _whole(data):
  return _run(lambda image: image.whole(), data).astype(np.float32)


def _area_resize(pixels, height, width):
  with tf.Graph().as_default(), tf.Session() as session:
    return session.run(tf.image.resize(pixels.astype(np.float32),
                                       [height, width], method='area'))


@pytest.mark.parametrize('data', [JPEG, PNG], ids=['jpeg', 'png'])
def test_the_shape_comes_without_decoding(data):
  np.testing.assert_array_equal(_run(lambda image: image.shape, data),
                                [HEIGHT, WIDTH, 3])


@pytest.mark.parametrize('min_size, shape', [
    ((10, 10), (10, 13)),   # 1/8: ceil(75 / 8), ceil(100 / 8).
    ((19, 25), (19, 25)),   # 1/4.
    ((20, 20), (38, 50)),   # 1/4 gives 19 rows, too few: 1/2.
    ((76, 1), (75, 100)),   # Nothing fits: whole.
])
def test_scaled_picks_the_largest_reduction_that_fits(min_size, shape):
  scaled = _run(lambda image: image.scaled(*min_size), JPEG)
  assert scaled.shape == shape + (3,)
  # PNG has no scaled decode: always whole.
  assert _run(lambda image: image.scaled(*min_size), PNG).shape == (
      HEIGHT, WIDTH, 3)


def test_a_scaled_decode_matches_a_whole_decode_resized():
  scaled = _run(lambda image: image.scaled(19, 25), JPEG).astype(np.float32)
  resized = _area_resize(_whole(JPEG), *scaled.shape[:2])
  assert np.abs(scaled - resized).mean() < 2.5


@pytest.mark.parametrize('data, tolerance', [(JPEG, 3), (PNG, 0)],
                         ids=['jpeg', 'png'])
def test_a_crop_matches_a_whole_decode_sliced(data, tolerance):
  # Measured: at most 2 levels for JPEG.
  crop = _run(lambda image: image.crop(10, 20, 40, 56), data)
  assert crop.shape == (40, 56, 3)
  expected = _whole(data)[10:50, 20:76]
  assert np.abs(crop - expected).max() <= tolerance


def test_a_scaled_crop_is_the_window_at_the_reduced_scale():
  crop = _run(lambda image: image.scaled_crop(8, 16, 60, 64, 15, 16),
              JPEG).astype(np.float32)
  assert crop.shape == (15, 16, 3)  # 1/4 of 60 x 64.
  expected = _area_resize(_whole(JPEG)[8:68, 16:80], 15, 16)
  assert np.abs(crop - expected).mean() < 2.5
  # Smaller than twice the minimum: the window at full scale.
  assert _run(lambda image: image.scaled_crop(8, 16, 60, 64, 31, 16),
              JPEG).shape == (60, 64, 3)


def test_the_central_window_is_what_resize_with_crop_or_pad_keeps():
  window = _run(lambda image: encoded_image.central_window(image, 40, 120),
                PNG)
  with tf.Graph().as_default(), tf.Session() as session:
    expected = session.run(tf.image.resize_with_crop_or_pad(
        _pixels(), 40, 120))
  # The window is the crop; padding it to 40 x 120 gives the rest.
  np.testing.assert_array_equal(window, expected[:, 10:110])


# ----------------------------------------------------------------------------
# The families: the same output from an EncodedImage as from the pixels.

OUTPUT = {'cifarnet': (32, 32), 'inception': (24, 30), 'lenet': (28, 20),
          'vgg': (24, 30)}
EVAL_KWARGS = {'vgg': {'resize_side': 32}}


@pytest.mark.parametrize('family', sorted(OUTPUT))
def test_eval_preprocessing_of_an_encoded_image_matches(family):
  fn = preprocessing_factory.get_preprocessing(family, is_training=False)
  assert fn.accepts_encoded_image
  height, width = OUTPUT[family]
  kwargs = EVAL_KWARGS.get(family, {})
  from_encoded = _run(lambda image: fn(image, height, width, **kwargs), JPEG)
  with tf.Graph().as_default(), tf.Session() as session:
    from_pixels = session.run(fn(
        tf.io.decode_jpeg(JPEG, channels=3), height, width, **kwargs))
  assert from_encoded.shape == from_pixels.shape == (height, width, 3)
  spread = from_pixels.max() - from_pixels.min()
  assert np.abs(from_encoded - from_pixels).mean() < 0.03 * spread


@pytest.mark.parametrize('decoded', [False, True], ids=['encoded', 'pixels'])
def test_cifarnet_training_crop_is_a_window_of_the_padded_image(decoded):
  """Partly decoded, or cut from the pixels before their float conversion
  (the decoded-image cache's path), the crop is a window of the image
  padded by 4, at an offset that varies with the seed."""
  padding, size = 4, 32
  whole = _whole(PNG)
  padded = np.pad(whole, [(padding, padding), (padding, padding), (0, 0)])
  offsets = set()
  for seed in range(4):
    crop = _run(lambda image: cifarnet_preprocessing._random_padded_crop(  # pylint: disable=protected-access
        image.whole() if decoded else image, size, size, padding), PNG,
                seed=seed)
    assert crop.shape == (size, size, 3) and crop.dtype == np.uint8
    matches = [(y, x) for y in range(padded.shape[0] - size + 1)
               for x in range(padded.shape[1] - size + 1)
               if np.array_equal(padded[y:y + size, x:x + size], crop)]
    assert matches, 'seed %d: the crop is no window of the padded image' % seed
    offsets.add(matches[0])
  assert len(offsets) > 1


@pytest.mark.parametrize('family', sorted(OUTPUT))
def test_training_preprocessing_of_an_encoded_image(family):
  fn = preprocessing_factory.get_preprocessing(family, is_training=True)
  height, width = OUTPUT[family]
  kwargs = {'vgg': {'resize_side_min': 32, 'resize_side_max': 48}}.get(
      family, {})
  outputs = [_run(lambda image: fn(image, height, width, **kwargs), data,
                  seed=1) for data in (JPEG, PNG)]
  for output in outputs:
    assert output.shape == (height, width, 3)
    assert np.isfinite(output).all() and output.std() > 0


# ----------------------------------------------------------------------------
# The pipeline: JPEG records decoded partially, or cached.


@pytest.fixture(scope='module')
def jpeg_dir(tmp_path_factory):
  """A converted folder dataset 'jpegs': 3 classes x 4 JPEGs, 75 x 100."""
  root = tmp_path_factory.mktemp('jpegs')
  for label in range(3):
    for i in range(4):
      path = root / 'src' / ('class_%d' % label) / ('%d.jpg' % i)
      os.makedirs(path.parent, exist_ok=True)
      path.write_bytes(_encode(_pixels(seed=4 * label + i), 'JPEG'))
  out = str(root / 'data')
  image_folder.convert('jpegs', str(root / 'src'), out,
                       validation_fraction=0.25, log=lambda *_: None)
  return out


def _read(dataset, is_training, preprocess, count=None, **kwargs):
  """(images, labels) of the batches of build_dataset, concatenated."""
  with tf.Graph().as_default():
    batches = pipeline.build_dataset(dataset, preprocess, 4, is_training,
                                     seed=0, **kwargs)
    images, labels = tf.data.make_one_shot_iterator(batches).get_next()
    out = []
    with tf.Session() as session:
      while count is None or len(out) < count:
        try:
          out.append(session.run([images, labels]))
        except tf.errors.OutOfRangeError:
          break
  return (np.concatenate([i for i, _ in out]),
          np.concatenate([l for _, l in out]))


def test_the_pipeline_decodes_jpeg_records_partially(jpeg_dir):
  dataset = dataset_factory.get_dataset('jpegs', 'train', jpeg_dir)
  assert pipeline.gives_encoded_images(dataset)
  fn = preprocessing_factory.get_preprocessing('inception')
  assert pipeline.use_encoded_images('partial', fn, dataset)
  assert not pipeline.use_encoded_images('whole', fn, dataset)
  preprocess = lambda image: fn(image, 24, 30)  # pylint: disable=g-long-lambda
  partial = _read(dataset, False, preprocess, encoded_images=True)
  whole = _read(dataset, False, preprocess)
  np.testing.assert_array_equal(partial[1], whole[1])
  assert partial[0].shape == whole[0].shape == (9, 24, 30, 3)
  assert np.abs(partial[0] - whole[0]).mean() < 0.02 * 2  # [-1, 1].


def test_cached_images_come_back_each_epoch(jpeg_dir):
  dataset = dataset_factory.get_dataset('jpegs', 'train', jpeg_dir)
  # The blue mean tells the images apart (5 levels between them).
  blue = lambda image: tf.reduce_mean(tf.cast(image[:, :, 2], tf.float32))
  images, labels = _read(dataset, True, blue, num_epochs=2,
                         cache_images=True, drop_remainder=False)
  assert len(labels) == 2 * dataset.num_samples
  np.testing.assert_array_equal(np.bincount(labels), [6, 6, 6])
  # Each of the 9 images twice, as decoded (the first pass filled the cache).
  _, counts = np.unique(images.round(1), return_counts=True)
  assert counts.tolist() == [2] * 9


def test_the_decoded_size_estimate(jpeg_dir):
  dataset = dataset_factory.get_dataset('jpegs', 'train', jpeg_dir)
  assert pipeline.decoded_size_bytes(dataset) == 9 * HEIGHT * WIDTH * 3


@pytest.mark.parametrize('budget_mb, cached, line', [
    (0, False, None),
    (1, True, 'Caching the decoded images in memory: about 0 MiB of '
     '--image_cache_mb=1'),
])
def test_the_cache_is_used_when_the_split_fits(jpeg_dir, caplog, budget_mb,
                                               cached, line):
  from slimvision.engines import config as config_lib
  from slimvision.engines import train_graph
  dataset = dataset_factory.get_dataset('jpegs', 'train', jpeg_dir)
  config = config_lib.TrainConfig(dataset_name='jpegs',
                                  image_cache_mb=budget_mb)
  with caplog.at_level('INFO', logger='slimvision'):
    assert train_graph._fits_image_cache(config, dataset) is cached
  assert (line in caplog.text) if line else not caplog.text


def test_a_split_too_large_for_the_cache_is_read_as_usual(jpeg_dir, caplog,
                                                          monkeypatch):
  from slimvision.engines import config as config_lib
  from slimvision.engines import train_graph
  dataset = dataset_factory.get_dataset('jpegs', 'train', jpeg_dir)
  monkeypatch.setattr(pipeline, 'decoded_size_bytes', lambda _: 3 << 20)
  config = config_lib.TrainConfig(dataset_name='jpegs', image_cache_mb=2)
  with caplog.at_level('INFO', logger='slimvision'):
    assert not train_graph._fits_image_cache(config, dataset)
  assert ('Not caching the decoded images: the 9 images of jpegs/train take '
          'about 3 MiB decoded, more than --image_cache_mb=2') in caplog.text


@pytest.mark.parametrize('available, split_bytes, cached, line', [
    (8 << 20, 1 << 20, True, 'Caching the decoded images in memory: about 1 '
     'MiB of a quarter of the 8 MiB available'),
    (8 << 20, 3 << 20, False, 'take about 3 MiB decoded, more than a quarter '
     'of the 8 MiB available'),
    (None, 1 << 20, False, 'the available memory is unknown here'),
])
def test_by_default_the_cache_takes_up_to_a_quarter_of_the_free_memory(
    jpeg_dir, caplog, monkeypatch, available, split_bytes, cached, line):
  from slimvision.engines import config as config_lib
  from slimvision.engines import train_graph
  dataset = dataset_factory.get_dataset('jpegs', 'train', jpeg_dir)
  monkeypatch.setattr(pipeline, 'available_memory_bytes', lambda: available)
  monkeypatch.setattr(pipeline, 'decoded_size_bytes', lambda _: split_bytes)
  config = config_lib.TrainConfig(dataset_name='jpegs')
  assert config.image_cache_mb is None
  with caplog.at_level('INFO', logger='slimvision'):
    assert train_graph._fits_image_cache(config, dataset) is cached
  assert line in caplog.text


def test_the_available_memory_is_at_most_the_machines():
  with open('/proc/meminfo') as meminfo:
    total = int(next(l for l in meminfo if l.startswith('MemTotal:')).split()[1])
  available = pipeline.available_memory_bytes()
  assert 0 < available <= total * 1024


def test_an_unreadable_first_record_gives_no_estimate(jpeg_dir, tmp_path):
  import dataset_records  # pylint: disable=g-import-not-at-top
  broken = dataset_records.copy_dataset(jpeg_dir, str(tmp_path / 'broken'))
  dataset = dataset_factory.get_dataset('jpegs', 'train', broken)
  with open(pipeline.list_files(dataset)[0], 'r+b') as f:
    f.write(b'\xff' * 12)  # The first record's length and its CRC.
  assert pipeline.decoded_size_bytes(dataset) is None
