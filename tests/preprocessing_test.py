"""The four preprocessing families and the preprocessing factory.

Every family is run on tiny images (40x50) to a non-square output, so that a
swapped height and width shows up, for training and for evaluation.
"""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from slimvision.preprocessing import cifarnet_preprocessing
from slimvision.preprocessing import inception_preprocessing
from slimvision.preprocessing import lenet_preprocessing
from slimvision.preprocessing import preprocessing_factory
from slimvision.preprocessing import preprocessing_utils
from slimvision.preprocessing import vgg_preprocessing

FAMILIES = ('cifarnet', 'inception', 'lenet', 'vgg')
MODULES = {'cifarnet': cifarnet_preprocessing,
           'inception': inception_preprocessing,
           'lenet': lenet_preprocessing,
           'vgg': vgg_preprocessing}
# (output height, output width) per family; all smaller than the input.
OUTPUT_SIZE = {'cifarnet': (32, 36), 'inception': (24, 30),
               'lenet': (28, 20), 'vgg': (24, 30)}
INPUT_SHAPE = (40, 50)
# Keeps VGG's training resize small (its defaults are 256-512 pixels).
TRAIN_KWARGS = {'vgg': {'resize_side_min': 32, 'resize_side_max': 64}}
EVAL_KWARGS = {'vgg': {'resize_side': 32}}
# Families whose networks take RGB: a 1-channel input becomes 3 channels.
RGB_FAMILIES = ('cifarnet', 'inception', 'vgg')
VGG_MEANS = np.array([123.68, 116.78, 103.94], np.float32)


def _image(channels=3, shape=INPUT_SHAPE, seed=0):
  return np.random.RandomState(seed).randint(
      0, 256, shape + (channels,)).astype(np.uint8)


def _kwargs(family, is_training):
  return dict((TRAIN_KWARGS if is_training else EVAL_KWARGS).get(family, {}))


def _build(family, is_training, use_grayscale=False, dtype=tf.uint8,
           placeholder_shape=(None, None, 3), output_size=None, **kwargs):
  """(placeholder, preprocessed Tensor) in the current default graph."""
  image = tf.placeholder(dtype, placeholder_shape)
  fn = preprocessing_factory.get_preprocessing(
      family, is_training=is_training, use_grayscale=use_grayscale)
  height, width = output_size or OUTPUT_SIZE[family]
  options = _kwargs(family, is_training)
  options.update(kwargs)
  return image, fn(image, height, width, **options)


def _run(family, is_training, image, runs=1, seed=None, **kwargs):
  """Builds a fresh graph, returns (output Tensor, [numpy output] * runs)."""
  with tf.Graph().as_default():
    if seed is not None:
      tf.set_random_seed(seed)
    placeholder, output = _build(
        family, is_training,
        placeholder_shape=(None, None, image.shape[-1]), **kwargs)
    with tf.Session() as sess:
      values = [sess.run(output, {placeholder: image}) for _ in range(runs)]
  return output, values


def _modes():
  return [pytest.param(f, t, id='%s-%s' % (f, 'train' if t else 'eval'))
          for f in FAMILIES for t in (True, False)]


# --- Shapes and dtypes -------------------------------------------------------


@pytest.mark.parametrize('family,is_training', _modes())
def test_output_shape_and_dtype(family, is_training):
  height, width = OUTPUT_SIZE[family]
  output, (value,) = _run(family, is_training, _image(), seed=1)
  # Static shape even from an input of unknown height and width.
  assert output.shape.as_list() == [height, width, 3]
  assert output.dtype == tf.float32
  assert value.shape == (height, width, 3)
  assert value.dtype == np.float32
  assert np.all(np.isfinite(value))


@pytest.mark.parametrize('family,is_training', _modes())
def test_grayscale_output_has_one_channel(family, is_training):
  height, width = OUTPUT_SIZE[family]
  output, (value,) = _run(family, is_training, _image(), seed=1,
                          use_grayscale=True)
  assert output.shape.as_list() == [height, width, 1]
  assert value.shape == (height, width, 1)
  assert value.dtype == np.float32


@pytest.mark.parametrize('family,is_training', _modes())
def test_grayscale_input(family, is_training):
  """MNIST-like 1-channel input: RGB families replicate it into 3 channels."""
  height, width = OUTPUT_SIZE[family]
  channels = 3 if family in RGB_FAMILIES else 1
  output, (value,) = _run(family, is_training, _image(channels=1), seed=1)
  assert output.shape.as_list() == [height, width, channels]
  assert value.shape == (height, width, channels)
  # Every distortion treats a gray pixel's channels alike (VGG's per-channel
  # mean aside).
  if family == 'vgg':
    value = value + VGG_MEANS
  for c in range(1, channels):
    np.testing.assert_allclose(value[..., c], value[..., 0], atol=1e-4)
  # Asking for grayscale keeps the single channel.
  output, (value,) = _run(family, is_training, _image(channels=1), seed=1,
                          use_grayscale=True)
  assert output.shape.as_list() == [height, width, 1]
  assert value.shape == (height, width, 1)


@pytest.mark.parametrize('family', FAMILIES)
def test_unknown_channel_count(family):
  """Channels only known at run time: 1 and 3 both give the static count."""
  channels = 3 if family in RGB_FAMILIES else None
  height, width = OUTPUT_SIZE[family]
  with tf.Graph().as_default():
    placeholder, output = _build(family, False,
                                 placeholder_shape=(None, None, None))
    gray_placeholder, gray_output = _build(
        family, False, use_grayscale=True,
        placeholder_shape=(None, None, None))
    assert output.shape.as_list() == [height, width, channels]
    assert gray_output.shape.as_list() == [height, width, 1]
    with tf.Session() as sess:
      for fed in (1, 3):
        value = sess.run(output, {placeholder: _image(channels=fed)})
        assert value.shape == (height, width, channels or fed)
        gray = sess.run(gray_output, {gray_placeholder: _image(channels=fed)})
        assert gray.shape == (height, width, 1)
      if family in RGB_FAMILIES:
        with pytest.raises(tf.errors.InvalidArgumentError, match='1 or 3'):
          sess.run(output, {placeholder: _image(channels=2)})


@pytest.mark.parametrize('family', FAMILIES)
def test_larger_output_than_input(family):
  """Outputs larger than the (resized) input are padded, in both modes."""
  size = (48, 64)
  image = _image(shape=(20, 30))
  for is_training in (True, False):
    kwargs = {'resize_side_min': 20, 'resize_side_max': 24} if (
        family == 'vgg' and is_training) else {}
    output, (value,) = _run(family, is_training, image, seed=1,
                            output_size=size, **kwargs)
    assert output.shape.as_list() == [48, 64, 3]
    assert value.shape == (48, 64, 3)
    assert np.all(np.isfinite(value))


# --- Determinism and randomness ----------------------------------------------


@pytest.mark.parametrize('family', FAMILIES)
def test_eval_is_deterministic(family):
  _, (first, second) = _run(family, False, _image(), runs=2)
  _, (third,) = _run(family, False, _image())
  np.testing.assert_array_equal(first, second)
  np.testing.assert_array_equal(first, third)


@pytest.mark.parametrize('family', ['cifarnet', 'inception', 'vgg'])
def test_training_is_random_and_seedable(family):
  _, (first, second) = _run(family, True, _image(), runs=2, seed=3)
  assert not np.allclose(first, second)
  # The same graph-level seed reproduces the same sequence.
  _, (again_first, again_second) = _run(family, True, _image(), runs=2,
                                        seed=3)
  np.testing.assert_array_equal(first, again_first)
  np.testing.assert_array_equal(second, again_second)
  _, (other_seed, _) = _run(family, True, _image(), runs=2, seed=4)
  assert not np.allclose(first, other_seed)


def test_inception_slow_mode_is_random_and_in_range():
  _, values = _run('inception', True, _image(), runs=4, seed=5,
                   fast_mode=False)
  for value in values:
    assert value.min() >= -1.0 and value.max() <= 1.0
  assert not np.allclose(values[0], values[1])


def test_lenet_training_equals_eval():
  """LeNet has no augmentation: training output is eval output."""
  _, (train, train_again) = _run('lenet', True, _image(), runs=2)
  _, (evaluation,) = _run('lenet', False, _image())
  np.testing.assert_array_equal(train, train_again)
  np.testing.assert_array_equal(train, evaluation)


# --- Values ------------------------------------------------------------------


@pytest.mark.parametrize('is_training', [True, False], ids=['train', 'eval'])
def test_inception_range(is_training):
  _, values = _run('inception', is_training, _image(), runs=3, seed=2)
  for value in values:
    assert value.min() >= -1.0 and value.max() <= 1.0
    # The full range is used, not just a sliver of it.
    assert value.max() - value.min() > 0.5


def test_inception_eval_values():
  """No crop, no resize: pixel p maps to p / 255 * 2 - 1 exactly."""
  image = _image()
  _, (value,) = _run('inception', False, image, central_fraction=1.0,
                     output_size=INPUT_SHAPE)
  np.testing.assert_allclose(value, image / 255.0 * 2.0 - 1.0, atol=1e-6)
  # A float image in [0, 1] is taken as is.
  with tf.Graph().as_default():
    placeholder, output = _build('inception', False, dtype=tf.float32,
                                 central_fraction=1.0,
                                 output_size=INPUT_SHAPE)
    with tf.Session() as sess:
      from_float = sess.run(output, {placeholder: image / 255.0})
  np.testing.assert_allclose(from_float, value, atol=1e-6)


def test_inception_eval_central_crop():
  """central_fraction 0.5 of 40x50 keeps rows 10:30 and columns 12:38 (the
  start offset is rounded down, the size is what remains)."""
  image = np.zeros(INPUT_SHAPE + (3,), np.uint8)
  image[10:30, 12:38] = 255
  _, (value,) = _run('inception', False, image, central_fraction=0.5,
                     output_size=(20, 26))
  np.testing.assert_allclose(value, 1.0, atol=1e-6)
  _, (value,) = _run('inception', False, image, output_size=(20, 26))
  assert value.min() == -1.0  # The default 0.875 keeps some black border.


def test_inception_training_options():
  image = _image()
  bbox = [[[0.25, 0.25, 0.75, 0.75]]]
  for kwargs in ({'bbox': bbox}, {'random_crop': False},
                 {'add_image_summaries': False}):
    with tf.Graph().as_default():
      tf.set_random_seed(1)
      placeholder, output = _build('inception', True, **kwargs)
      summaries = tf.get_collection(tf.GraphKeys.SUMMARIES)
      assert bool(summaries) == kwargs.get('add_image_summaries', True)
      with tf.Session() as sess:
        value = sess.run(output, {placeholder: image})
    assert value.shape == OUTPUT_SIZE['inception'] + (3,)
    assert value.min() >= -1.0 and value.max() <= 1.0


def test_inception_min_crop_area_bounds_the_crop():
  areas = {}
  with tf.Graph().as_default():
    tf.set_random_seed(3)
    image = tf.zeros([40, 50, 3])
    whole = tf.constant([[[0.0, 0.0, 1.0, 1.0]]])
    crops = {a: tf.shape(inception_preprocessing.distorted_bounding_box_crop(
        image, whole, area_range=(a, 1.0))[0]) for a in (0.05, 0.5)}
    with tf.Session() as sess:
      for _ in range(100):
        for a, shape in sess.run(crops).items():
          areas.setdefault(a, []).append(shape[0] * shape[1] / 2000.0)
  # Crop sides are whole pixels, so the area bound holds to a pixel's row.
  assert min(areas[0.5]) >= 0.5 - 0.03
  assert min(areas[0.05]) < 0.3


def test_inception_training_without_crop_and_colour_is_a_flip_at_most():
  """min_crop_area=1 crops the whole image and, at the input size, every
  resize method is the identity: only the random flip remains."""
  image = _image()
  _, (evaluation,) = _run('inception', False, image, central_fraction=1.0,
                          output_size=INPUT_SHAPE)
  _, values = _run('inception', True, image, runs=8, seed=4,
                   output_size=INPUT_SHAPE, min_crop_area=1.0,
                   color_distortion=False)
  flipped = 0
  for value in values:
    if np.allclose(value, evaluation[:, ::-1], atol=1e-6):
      flipped += 1
    else:
      np.testing.assert_allclose(value, evaluation, atol=1e-6)
  assert 0 < flipped < 8
  _, values = _run('inception', True, image, runs=4, seed=4,
                   output_size=INPUT_SHAPE, min_crop_area=1.0)
  assert not any(np.allclose(v, evaluation, atol=1e-3) or
                 np.allclose(v, evaluation[:, ::-1], atol=1e-3)
                 for v in values)


def test_inception_fast_mode_resizes_bilinearly_as_eval_does():
  """TF-Slim's fast mode (the default) resizes training crops bilinearly
  only: without crop and colour, a downscaled training image is the eval
  image or its mirror, never a nearest-neighbour or area resize."""
  image = _image()
  size = (20, 26)
  _, (evaluation,) = _run('inception', False, image, central_fraction=1.0,
                          output_size=size)
  _, values = _run('inception', True, image, runs=12, seed=6,
                   output_size=size, min_crop_area=1.0,
                   color_distortion=False)
  for value in values:
    assert (np.allclose(value, evaluation, atol=1e-5) or
            np.allclose(value, evaluation[:, ::-1], atol=1e-5))


def test_inception_random_rotate_90_gives_the_8_orientations():
  square = (40, 40)
  image = _image(shape=square)
  _, (evaluation,) = _run('inception', False, image, central_fraction=1.0,
                          output_size=square)
  orientations = [np.rot90(flipped, k) for flipped in
                  (evaluation, evaluation[:, ::-1]) for k in range(4)]
  _, values = _run('inception', True, image, runs=32, seed=5,
                   output_size=square, min_crop_area=1.0,
                   color_distortion=False, random_rotate_90=True)
  seen = set()
  for value in values:
    matches = [i for i, o in enumerate(orientations)
               if np.allclose(value, o, atol=1e-6)]
    assert matches, 'not a rotation or flip of the eval image'
    seen.add(matches[0])
  # 32 draws from 8 equally likely orientations: missing 3 or more has a
  # chance below 1e-5.
  assert len(seen) >= 6


def test_inception_random_turn_is_one_of_the_4_rotations():
  # Rotations only: a reflection (a wrong axis, a transposition alone)
  # would pass the test above, where the flip makes reflections legitimate.
  image = np.arange(3 * 3 * 2, dtype=np.float32).reshape([3, 3, 2])
  with tf.Graph().as_default():
    tf.set_random_seed(3)
    turned = inception_preprocessing._random_rot90(tf.constant(image))  # pylint: disable=protected-access
    assert turned.shape.as_list() == [3, 3, 2]
    with tf.Session() as session:
      values = [session.run(turned) for _ in range(24)]
  turns = []
  for value in values:
    matches = [k for k in range(4) if np.array_equal(value,
                                                     np.rot90(image, k))]
    assert len(matches) == 1, value[..., 0]
    turns.append(matches[0])
  # 24 draws from 4 equally likely turns: missing one has a chance of 4e-3
  # (and the seed is fixed).
  assert sorted(set(turns)) == [0, 1, 2, 3]


def test_inception_random_rotate_90_needs_a_square_output():
  with pytest.raises(ValueError, match='square output, got 40x50'):
    _run('inception', True, _image(), output_size=INPUT_SHAPE,
         random_rotate_90=True)


@pytest.mark.parametrize('is_training', [True, False], ids=['train', 'eval'])
def test_lenet_range(is_training):
  image = _image()
  image[0, 0] = 0
  image[20, 25] = 255
  _, (value,) = _run('lenet', is_training, image)
  assert value.min() == -1.0
  assert value.max() == 127.0 / 128.0
  # Central crop of 28x20 from 40x50: rows 6:34, columns 15:35.
  np.testing.assert_allclose(
      value, (image[6:34, 15:35].astype(np.float32) - 128.0) / 128.0)


def test_lenet_pads_small_images():
  image = np.full((20, 10, 1), 255, np.uint8)
  _, (value,) = _run('lenet', False, image, output_size=(28, 28))
  assert value.shape == (28, 28, 1)
  np.testing.assert_allclose(value[4:24, 9:19], 127.0 / 128.0)
  assert np.sum(value == -1.0) == 28 * 28 - 20 * 10  # Zero padding -> -1.


@pytest.mark.parametrize('is_training', [True, False], ids=['train', 'eval'])
@pytest.mark.parametrize('use_grayscale', [False, True], ids=['rgb', 'gray'])
def test_cifarnet_is_standardised(is_training, use_grayscale):
  _, values = _run('cifarnet', is_training, _image(), runs=2, seed=1,
                   use_grayscale=use_grayscale)
  for value in values:
    assert abs(value.mean()) < 1e-4
    assert abs(value.std() - 1.0) < 1e-3


def _standardise(x):
  x = x.astype(np.float64)
  return (x - x.mean()) / max(x.std(), 1.0 / np.sqrt(x.size))


def test_cifarnet_eval_values():
  image = _image()
  _, (value,) = _run('cifarnet', False, image)
  # Central 32x36 of 40x50: rows 4:36, columns 7:43.
  np.testing.assert_allclose(value, _standardise(image[4:36, 7:43]),
                             atol=1e-4)


def test_cifarnet_training_without_padding():
  """padding=0 on an image of the output size crops the whole image; on one
  channel the standardisation then undoes brightness and contrast (both act
  per channel), leaving only the flip."""
  image = _image(channels=1, shape=OUTPUT_SIZE['cifarnet'])
  expected = _standardise(image)
  _, values = _run('cifarnet', True, image, runs=6, seed=0, padding=0,
                   use_grayscale=True)
  flips = 0
  for value in values:
    if np.allclose(value, expected, atol=1e-3):
      continue
    np.testing.assert_allclose(value, expected[:, ::-1], atol=1e-3)
    flips += 1
  assert 0 < flips < len(values)


@pytest.mark.parametrize('is_training', [True, False], ids=['train', 'eval'])
def test_vgg_subtracts_mean_pixel(is_training):
  """A uniform image of colour c comes out as c - mean everywhere."""
  colour = np.array([200.0, 100.0, 50.0], np.float32)
  image = np.tile(colour, INPUT_SHAPE + (1,))
  with tf.Graph().as_default():
    placeholder, output = _build('vgg', is_training, dtype=tf.float32)
    with tf.Session() as sess:
      value = sess.run(output, {placeholder: image})
  np.testing.assert_allclose(value, np.broadcast_to(colour - VGG_MEANS,
                                                    value.shape), atol=1e-3)


@pytest.mark.parametrize('is_training', [True, False], ids=['train', 'eval'])
def test_vgg_grayscale_subtracts_gray_mean(is_training):
  """The mean pixel itself maps to 0, in colour and in grayscale."""
  image = np.tile(VGG_MEANS, INPUT_SHAPE + (1,))
  for use_grayscale in (False, True):
    with tf.Graph().as_default():
      placeholder, output = _build('vgg', is_training, dtype=tf.float32,
                                   use_grayscale=use_grayscale)
      with tf.Session() as sess:
        value = sess.run(output, {placeholder: image})
    assert value.shape[-1] == (1 if use_grayscale else 3)
    np.testing.assert_allclose(value, 0.0, atol=1e-3)


def test_vgg_eval_resize_and_crop():
  """Eval resizes the smaller side to `resize_side`, then crops the centre."""
  # Left half black, right half white: the centre column is the boundary.
  image = np.zeros((40, 80, 3), np.uint8)
  image[:, 40:] = 255
  _, (value,) = _run('vgg', False, image, output_size=(20, 20),
                     resize_side=20)
  # Resized to 20x40; centre 20x20 is columns 10:30, boundary at column 10.
  pixels = value + VGG_MEANS
  np.testing.assert_allclose(pixels[:, :9], 0.0, atol=1e-3)
  np.testing.assert_allclose(pixels[:, 11:], 255.0, atol=1e-3)


def test_vgg_aspect_preserving_resize():
  with tf.Graph().as_default():
    image = tf.zeros([40, 50, 3])
    side = tf.placeholder(tf.int32, [])
    resized = vgg_preprocessing._aspect_preserving_resize(image, side)
    tall = vgg_preprocessing._aspect_preserving_resize(tf.zeros([50, 40, 1]),
                                                       32)
    with tf.Session() as sess:
      assert sess.run(tf.shape(resized), {side: 32}).tolist() == [32, 40, 3]
      assert sess.run(tf.shape(resized), {side: 256}).tolist() == [
          256, 320, 3]
      assert sess.run(tf.shape(tall)).tolist() == [40, 32, 1]


# research/slim's preprocess_image parameters, in order: code passes them by
# position (ours add theirs after these).
RESEARCH_SLIM_PREPROCESS_IMAGE = {
    'cifarnet': ['image', 'output_height', 'output_width', 'is_training',
                 'add_image_summaries', 'use_grayscale'],
    'inception': ['image', 'height', 'width', 'is_training', 'bbox',
                  'fast_mode', 'add_image_summaries', 'crop_image',
                  'use_grayscale'],
    'lenet': ['image', 'output_height', 'output_width', 'is_training',
              'use_grayscale'],
    'vgg': ['image', 'output_height', 'output_width', 'is_training',
            'resize_side_min', 'resize_side_max', 'use_grayscale'],
}


@pytest.mark.parametrize('family', FAMILIES)
def test_preprocess_image_keeps_research_slims_parameter_order(family):
  import inspect  # pylint: disable=g-import-not-at-top
  expected = RESEARCH_SLIM_PREPROCESS_IMAGE[family]
  parameters = inspect.signature(MODULES[family].preprocess_image).parameters
  assert list(parameters)[:len(expected)] == expected


def test_vgg_research_slim_helpers_give_its_sizes_windows_and_means():
  rng = np.random.RandomState(0)
  pixels = rng.uniform(0, 255, (5, 7, 3)).astype(np.float32)
  with tf.Graph().as_default(), tf.Session() as sess:
    image = tf.constant(pixels)
    sizes = [vgg_preprocessing._smallest_size_at_least(h, w, side)
             for h, w, side in ((40, 50, 32), (50, 40, 32), (3, 5, 2))]
    resized = vgg_preprocessing._aspect_preserving_resize(image, 10)
    # research/slim's resize: tf.image.resize_bilinear, corners not aligned.
    reference = tf.image.resize_bilinear(image[None], [10, 14])[0]
    crop = vgg_preprocessing._crop(image, 1, 2, 3, 4)
    central = vgg_preprocessing._central_crop([image], 2, 3)[0]
    first, second = vgg_preprocessing._random_crop([image, 2 * image], 4, 4)
    means = vgg_preprocessing._mean_image_subtraction(image, [1.0, 2.0, 3.0])
    values = sess.run(dict(sizes=sizes, resized=resized, reference=reference,
                           crop=crop, central=central, first=first,
                           second=second, means=means))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match='Crop size greater than the image size'):
      sess.run(vgg_preprocessing._crop(image, 0, 0, 6, 7))
  assert [tuple(s) for s in values['sizes']] == [(32, 40), (40, 32), (2, 3)]
  np.testing.assert_allclose(values['resized'], values['reference'],
                             rtol=1e-6)
  np.testing.assert_array_equal(values['crop'], pixels[1:4, 2:6])
  np.testing.assert_array_equal(values['central'], pixels[1:3, 2:5])
  # One window, the same for both images of the list.
  windows = [(y, x) for y in range(2) for x in range(4)
             if np.array_equal(pixels[y:y + 4, x:x + 4], values['first'])]
  assert len(windows) == 1
  np.testing.assert_array_equal(values['second'], 2 * values['first'])
  np.testing.assert_allclose(values['means'], pixels - [1.0, 2.0, 3.0])
  with pytest.raises(ValueError, match='len.means. must match'):
    vgg_preprocessing._mean_image_subtraction(tf.constant(pixels), [1.0])
  with pytest.raises(ValueError, match='Empty image_list'):
    vgg_preprocessing._random_crop([], 2, 2)


def test_rgb_to_gray_value_matches_tensorflow():
  rgb = [123.68, 116.78, 103.94]
  with tf.Graph().as_default(), tf.Session() as sess:
    gray = sess.run(tf.image.rgb_to_grayscale(tf.constant([[rgb]])))
  assert preprocessing_utils.rgb_to_gray_value(rgb) == pytest.approx(
      float(gray[0, 0, 0]), abs=1e-3)


def test_bad_channel_count_is_rejected():
  with tf.Graph().as_default():
    image = tf.zeros([8, 8, 4])
    with pytest.raises(ValueError, match='1 or 3 channels'):
      preprocessing_utils.to_rgb(image)
    with pytest.raises(ValueError, match='1 or 3 channels'):
      preprocessing_utils.to_grayscale(image)


# --- Factory -----------------------------------------------------------------


@pytest.mark.parametrize('name,family', [
    ('inception_v3', 'inception'), ('mobilenet_v1', 'inception'),
    ('nasnet_mobile', 'inception'), ('inception', 'inception'),
    ('resnet_v1_50', 'vgg'), ('vgg_16', 'vgg'), ('vgg', 'vgg'),
    ('cifarnet', 'cifarnet'), ('lenet', 'lenet')])
def test_factory_maps_name_to_family(name, family, monkeypatch):
  calls = []
  for module_family, module in MODULES.items():
    monkeypatch.setattr(
        module, 'preprocess_image',
        lambda *args, _f=module_family, **kwargs: calls.append(
            (_f, args, kwargs)) or _f)
  fn = preprocessing_factory.get_preprocessing(name, is_training=True,
                                               use_grayscale=True)
  assert fn('image', 7, 9, extra=1) == family
  assert calls == [(family, ('image', 7, 9),
                    {'is_training': True, 'use_grayscale': True,
                     'extra': 1})]


def test_factory_family():
  assert preprocessing_factory.family('mobilenet_v1_025') == 'inception'
  assert preprocessing_factory.family('resnet_v1_50') == 'vgg'
  with pytest.raises(ValueError, match="Unknown preprocessing name 'nope'"):
    preprocessing_factory.family('nope')


def test_factory_rejects_unknown_name():
  with pytest.raises(ValueError, match='Unknown preprocessing name') as info:
    preprocessing_factory.get_preprocessing('inception_v9')
  for valid in ('cifarnet', 'inception_v3', 'lenet', 'vgg_16'):
    assert valid in str(info.value)


def test_factory_map_serves_the_family_modules():
  for name, module in MODULES.items():
    assert preprocessing_factory.preprocessing_fn_map[name] is module
  assert preprocessing_factory.preprocessing_fn_map['resnet_v1_50'] is (
      vgg_preprocessing)
  assert preprocessing_factory.preprocessing_fn_map['nasnet_mobile'] is (
      inception_preprocessing)
  assert 'inception_v9' not in preprocessing_factory.preprocessing_fn_map


def test_inception_research_slim_selector_and_colour_orderings():
  with tf.Graph().as_default():
    case = inception_preprocessing.apply_with_random_selector(
        tf.constant(10), lambda x, c: x + c, num_cases=3)
    with tf.Session() as sess:
      drawn = {sess.run(case) for _ in range(60)}
  assert drawn == {10, 11, 12}
  for fast_mode, count in ((True, 2), (False, 4)):
    for ordering in range(count):
      with tf.Graph().as_default():
        distorted = inception_preprocessing.distort_color(
            tf.constant(_image().astype(np.float32) / 255.0), ordering,
            fast_mode, scope='colours')
        assert distorted.op.name.startswith('colours/')
        ops = {op.type for op in tf.get_default_graph().get_operations()}
        # Hue and contrast only outside fast mode.
        assert ('AdjustHue' in ops) == (not fast_mode)
    with tf.Graph().as_default():
      with pytest.raises(ValueError, match=r'color_ordering must be in '
                         r'\[0, %d\]' % (count - 1)):
        inception_preprocessing.distort_color(tf.zeros([4, 4, 3]), count,
                                              fast_mode)


def test_inception_research_slim_crop_switches_and_scopes():
  image = _image()
  with tf.Graph().as_default():
    # crop_image=False: eval resizes the whole image, as central_crop=False.
    whole = inception_preprocessing.preprocess_image(
        tf.constant(image), 8, 8, crop_image=False)
    no_central = inception_preprocessing.preprocess_for_eval(
        tf.constant(image), 8, 8, central_crop=False, scope='whole_eval')
    cropped = inception_preprocessing.preprocess_image(
        tf.constant(image), 8, 8)
    assert no_central.op.name.startswith('whole_eval/')
    with tf.Session() as sess:
      whole, no_central, cropped = sess.run([whole, no_central, cropped])
  np.testing.assert_allclose(whole, no_central)
  assert np.abs(whole - cropped).max() > 0.01
  with tf.Graph().as_default():
    train = inception_preprocessing.preprocess_for_train(
        tf.constant(image), 8, 8, None, True, 'my_train',
        add_image_summaries=False)
    assert train.op.name.startswith('my_train/')
    inception_preprocessing.preprocess_image(
        tf.constant(image), 8, 8, is_training=True, crop_image=False,
        add_image_summaries=False)
    ops = [op.type for op in tf.get_default_graph().get_operations()]
    # Only the first build samples a crop.
    assert ops.count('SampleDistortedBoundingBoxV2') == 1
