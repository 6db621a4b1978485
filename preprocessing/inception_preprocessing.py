"""Inception preprocessing: distorted-box crop and colour jitter, [-1, 1].

Used by the Inception, MobileNet and NASNet families. Training samples a
random crop that covers part of the (given or whole-image) bounding box,
resizes it to the output size with a randomly chosen method, flips it at
random and distorts its colours; evaluation takes a central crop and resizes
it bilinearly. Pixel values are handled in [0, 1] and finally mapped to
[-1, 1].
"""

import collections
import functools

import tensorflow.compat.v1 as tf

from slimvision.preprocessing import encoded_image
from slimvision.preprocessing import preprocessing_utils

# preprocess_image takes an EncodedImage too (see encoded_image.py).
ACCEPTS_ENCODED_IMAGE = True
# The values its outputs take (the integer export's input range).
OUTPUT_RANGE = (-1.0, 1.0)

_CENTRAL_FRACTION = 0.875

# Distorted bounding box sampling (training).
_MIN_OBJECT_COVERED = 0.1
_ASPECT_RATIO_RANGE = (0.75, 1.33)
MIN_CROP_AREA = 0.05  # Smallest crop, as a fraction of the image area.
_MAX_ATTEMPTS = 100

# Colour distortion strengths, on the [0, 1] pixel scale.
_BRIGHTNESS_MAX_DELTA = 32.0 / 255.0
_SATURATION_RANGE = (0.5, 1.5)
_HUE_MAX_DELTA = 0.2
_CONTRAST_RANGE = (0.5, 1.5)

# Resize methods drawn from in training. Fast mode, TF-Slim's default, uses
# only the first: bilinear, as evaluation does.
_RESIZE_METHODS = (tf.image.ResizeMethod.BILINEAR,
                   tf.image.ResizeMethod.NEAREST_NEIGHBOR,
                   tf.image.ResizeMethod.AREA,
                   tf.image.ResizeMethod.BICUBIC)


def _to_float(image):
  """uint8 -> float32 in [0, 1]; float images are taken to be in [0, 1]."""
  return tf.image.convert_image_dtype(image, dtype=tf.float32)


def _to_signed_unit_range(image):
  """[0, 1] -> [-1, 1]."""
  return (image - 0.5) * 2.0


def apply_with_random_selector(x, func, num_cases):
  """research/slim's selector: func(x, case) for a case drawn uniformly from
  range(num_cases); only the drawn case runs.

  Args:
    x: Tensor.
    func: fn(x, case) -> Tensor of x's dtype and shape, for a Python int
      case.
    num_cases: int, the number of cases.

  Returns:
    The output of func for the drawn case.
  """
  return _apply_random_case(
      x, [lambda image, case=case: func(image, case)
          for case in range(num_cases)])


def _apply_random_case(image, fns):
  """Applies one of `fns`, chosen uniformly at random, to `image`.

  Only the chosen function runs. Every function must map `image` to a
  Tensor of the same dtype and shape.

  Args:
    image: Tensor.
    fns: list of functions Tensor -> Tensor.

  Returns:
    The result of the chosen function.
  """
  if len(fns) == 1:
    return fns[0](image)
  index = tf.random_uniform([], maxval=len(fns), dtype=tf.int32)
  return tf.switch_case(index, [lambda fn=fn: fn(image) for fn in fns])


def _color_orderings(fast_mode):
  """research/slim's orderings of the colour distortions, by color_ordering.

  Args:
    fast_mode: brightness and saturation only (hue and contrast are the
      slow ones): 2 orderings; otherwise all four: 4 orderings.

  Returns:
    A list of tuples of functions float [h, w, 3] -> float [h, w, 3].
  """
  brightness = functools.partial(tf.image.random_brightness,
                                 max_delta=_BRIGHTNESS_MAX_DELTA)
  saturation = functools.partial(tf.image.random_saturation,
                                 lower=_SATURATION_RANGE[0],
                                 upper=_SATURATION_RANGE[1])
  hue = functools.partial(tf.image.random_hue, max_delta=_HUE_MAX_DELTA)
  contrast = functools.partial(tf.image.random_contrast,
                               lower=_CONTRAST_RANGE[0],
                               upper=_CONTRAST_RANGE[1])
  if fast_mode:
    return [(brightness, saturation), (saturation, brightness)]
  return [(brightness, saturation, hue, contrast),
          (saturation, brightness, contrast, hue),
          (contrast, hue, brightness, saturation),
          (hue, saturation, contrast, brightness)]


def distort_color(image, color_ordering=0, fast_mode=True, scope=None):
  """Random brightness and saturation (and hue and contrast) in one order.

  Args:
    image: float Tensor [height, width, 3], RGB in [0, 1].
    color_ordering: which order to apply them in: 0 or 1 in fast mode,
      0 to 3 otherwise (research/slim's orderings). Training draws it at
      random, from 0 only in fast mode.
    fast_mode: only brightness and saturation.
    scope: name scope (default 'distort_color').

  Returns:
    float Tensor [height, width, 3] in [0, 1].

  Raises:
    ValueError: for a color_ordering out of range.
  """
  orderings = _color_orderings(fast_mode)
  if not 0 <= color_ordering < len(orderings):
    raise ValueError('color_ordering must be in [0, %d] %s fast_mode, got '
                     '%r' % (len(orderings) - 1,
                             'with' if fast_mode else 'without',
                             color_ordering))
  with tf.name_scope(scope, 'distort_color', [image]):
    for distortion in orderings[color_ordering]:
      image = distortion(image)
    # The distortions can leave [0, 1]; clip back.
    return tf.clip_by_value(image, 0.0, 1.0)


# research/slim's distorted_bounding_box_crop arguments.
_CropOptions = collections.namedtuple('_CropOptions', [
    'min_object_covered', 'aspect_ratio_range', 'area_range', 'max_attempts'])


def _crop_options(min_crop_area):
  return _CropOptions(_MIN_OBJECT_COVERED, _ASPECT_RATIO_RANGE,
                      (min_crop_area, 1.0), _MAX_ATTEMPTS)


def _sample_crop(image_shape, bbox, options):
  """A random crop that covers part of one of `bbox`: (begin int32 [3],
  size int32 [3], the crop as a box [1, 1, 4]) for an image of
  `image_shape` (int32 [3]); see distorted_bounding_box_crop."""
  # tf.image.sample_distorted_bounding_box ignores the graph-level seed;
  # derive the op's seeds as other random ops do, so tf.set_random_seed
  # makes the crop reproducible (0, 0 means nondeterministic).
  seed, seed2 = tf.get_seed(None)
  return tf.raw_ops.SampleDistortedBoundingBoxV2(
      image_size=image_shape, bounding_boxes=bbox,
      min_object_covered=tf.constant(options.min_object_covered, tf.float32),
      aspect_ratio_range=list(options.aspect_ratio_range),
      area_range=list(options.area_range),
      max_attempts=options.max_attempts,
      use_image_if_no_bounding_boxes=True, seed=seed or 0,
      seed2=seed2 or 0)


def distorted_bounding_box_crop(image, bbox,
                                min_object_covered=_MIN_OBJECT_COVERED,
                                aspect_ratio_range=_ASPECT_RATIO_RANGE,
                                area_range=(MIN_CROP_AREA, 1.0),
                                max_attempts=_MAX_ATTEMPTS, scope=None):
  """Crops a random box that covers part of one of `bbox`.

  Args:
    image: Tensor [height, width, channels].
    bbox: float Tensor [1, num_boxes, 4], boxes as [ymin, xmin, ymax, xmax]
      in fractions of the image size.
    min_object_covered: least fraction of a box the crop must contain.
    aspect_ratio_range: (min, max) width / height of the crop.
    area_range: (min, max) crop area as a fraction of the image area.
    max_attempts: tries at a crop meeting these before the whole image.
    scope: name scope (default 'distorted_bounding_box_crop').

  Returns:
    (cropped image [crop_height, crop_width, channels], the crop as a box
    [1, 1, 4] in the same coordinates).
  """
  options = _CropOptions(min_object_covered, aspect_ratio_range, area_range,
                         max_attempts)
  with tf.name_scope(scope, 'distorted_bounding_box_crop', [image, bbox]):
    begin, size, crop_box = _sample_crop(tf.shape(image), bbox, options)
    return tf.slice(image, begin, size), crop_box


def _decode_for_train(image, height, width, bbox, random_crop, min_crop_area):
  """Decodes an EncodedImage as far as training needs: the random crop
  only, at the smallest scale that leaves it height x width or more (it is
  resized to that next); without random_crop the whole image so scaled."""
  if not random_crop:
    return image.scaled(height, width)
  with tf.name_scope('distorted_bounding_box_crop'):
    begin, size, _ = _sample_crop(image.shape, bbox,
                                  _crop_options(min_crop_area))
    return image.scaled_crop(begin[0], begin[1], size[0], size[1], height,
                             width)


def _decode_for_eval(image, height, width, central_fraction):
  """Decodes an EncodedImage as far as evaluation needs: the central crop
  (as tf.image.central_crop takes it), at the smallest scale that leaves it
  height x width or more (it is resized to that next)."""
  if not central_fraction or central_fraction >= 1.0:
    return image.scaled(height, width) if height and width else image.whole()
  image_height, image_width = image.shape[0], image.shape[1]

  def start(size):
    size = tf.cast(size, tf.float64)
    return tf.cast((size - size * central_fraction) / 2, tf.int32)

  top, left = start(image_height), start(image_width)
  crop = (top, left, image_height - 2 * top, image_width - 2 * left)
  if not (height and width):
    return image.crop(*crop)
  return image.scaled_crop(*crop, height, width)


def _random_rot90(image):
  """`image` (square) turned by a random multiple of 90 degrees, as
  tf.image.rot90 turns it: one reversal and one transposition, each of the
  axes the turn needs. tf.image.rot90 with a random turn picks one of four
  branches with a switch_case, which cost 0.07-0.09 CPU-ms more per 128 px
  image in a tf.data map."""
  turns = tf.random.uniform([], 0, 4, tf.int32)
  # Per turn: which of the axes (rows, columns) to reverse, and whether to
  # transpose afterwards. 1: columns, transposed; 2: both; 3: rows,
  # transposed.
  reversed_axes = tf.boolean_mask(tf.constant([0, 1]), tf.gather(
      tf.constant([[False, False], [False, True], [True, True],
                   [True, False]]), turns))
  permutation = tf.gather(tf.constant([[0, 1, 2], [1, 0, 2]]), turns % 2)
  turned = tf.transpose(tf.reverse(image, reversed_axes), permutation)
  turned.set_shape(image.shape)
  return turned


def preprocess_for_train(image, height, width, bbox=None, fast_mode=True,
                         scope=None, add_image_summaries=True,
                         random_crop=True, use_grayscale=False,
                         min_crop_area=MIN_CROP_AREA, color_distortion=True,
                         random_rotate_90=False):
  """Distorted crop, random-method resize, flip, colour jitter, [-1, 1].

  Args:
    image: uint8 Tensor [h, w, 1 or 3], or float in [0, 1], or an
      EncodedImage, of which only the crop is decoded (at a reduced scale
      when it is at least twice the output size).
    height: int, output height in pixels.
    width: int, output width in pixels.
    bbox: float Tensor [1, num_boxes, 4] of [ymin, xmin, ymax, xmax] boxes
      in fractions of the image size; None means the whole image.
    fast_mode: as TF-Slim's fast mode: bilinear resizing only, and
      brightness then saturation only; otherwise a random one of 4 resize
      methods and 4 orderings of brightness, saturation, hue and contrast.
    scope: name scope (default 'distort_image').
    add_image_summaries: add image summaries of the crop and the result.
    random_crop: sample a distorted bounding box crop; False resizes the
      whole image.
    min_crop_area: smallest random crop, as a fraction of the image area.
      TF-Slim's 0.05 suits ImageNet; a small dataset trained for a short
      time learns more from milder crops.
    color_distortion: randomly distort brightness and saturation (and hue
      and contrast unless fast_mode).
    random_rotate_90: also rotate by a random multiple of 90 degrees, so
      that with the flip all 8 orientations occur: for overhead imagery,
      whose orientation means nothing. Needs height == width.
    use_grayscale: return 1 channel instead of 3.

  Returns:
    float32 Tensor [height, width, 1 or 3] in [-1, 1].

  Raises:
    ValueError: random_rotate_90 with height != width.
  """
  if random_rotate_90 and height != width:
    raise ValueError('random 90-degree rotations need a square output, got '
                     '%sx%s' % (height, width))
  with tf.name_scope(scope, 'distort_image', [image, height, width, bbox]):
    if bbox is None:
      bbox = tf.constant([0.0, 0.0, 1.0, 1.0], tf.float32, [1, 1, 4])
    bbox = tf.convert_to_tensor(bbox, tf.float32)
    if isinstance(image, encoded_image.EncodedImage):
      image = _decode_for_train(image, height, width, bbox, random_crop,
                                min_crop_area)
      random_crop = False  # Done.
    if random_crop:
      full_image = image
      # Cut before converting to float: the same values, but only the
      # crop's pixels are converted (mobilenet_v1_025@128: 0.30-0.45 CPU-ms
      # an image for the whole function against 0.34-0.50).
      image, crop_box = distorted_bounding_box_crop(
          image, bbox, area_range=(min_crop_area, 1.0))
      if add_image_summaries:
        batch = tf.expand_dims(
            preprocessing_utils.to_rgb(_to_float(full_image)), 0)
        tf.summary.image('image_with_bounding_boxes',
                         tf.image.draw_bounding_boxes(batch, bbox))
        tf.summary.image('image_with_distorted_box',
                         tf.image.draw_bounding_boxes(batch, crop_box))
    # Colour distortions need RGB; a grayscale result is taken at the end.
    image = preprocessing_utils.to_rgb(_to_float(image))
    image.set_shape([None, None, 3])
    methods = _RESIZE_METHODS[:1] if fast_mode else _RESIZE_METHODS
    image = _apply_random_case(
        image, [lambda x, m=m: tf.image.resize_images(x, [height, width],
                                                      method=m)
                for m in methods])
    image.set_shape([height, width, 3])
    if add_image_summaries:
      tf.summary.image('cropped_resized_image', tf.expand_dims(image, 0))
    image = tf.image.random_flip_left_right(image)
    if random_rotate_90:
      image = _random_rot90(image)
    if color_distortion:
      image = apply_with_random_selector(
          image, lambda x, ordering: distort_color(x, ordering, fast_mode),
          num_cases=1 if fast_mode else 4)
      image.set_shape([height, width, 3])
    if add_image_summaries:
      tf.summary.image('final_distorted_image', tf.expand_dims(image, 0))
    if use_grayscale:
      image = preprocessing_utils.to_grayscale(image)
    return _to_signed_unit_range(image)


def preprocess_for_eval(image, height, width,
                        central_fraction=_CENTRAL_FRACTION, scope=None,
                        central_crop=True, use_grayscale=False):
  """Central crop, bilinear resize, [-1, 1].

  Args:
    image: uint8 Tensor [h, w, 1 or 3], or float in [0, 1], or an
      EncodedImage, of which only the central crop is decoded (at a reduced
      scale when it is at least twice the output size).
    height: int output height in pixels, or None to skip the resize.
    width: int output width in pixels, or None to skip the resize.
    central_fraction: fraction of the height and width kept by the central
      crop; None or 1.0 keeps the whole image.
    scope: name scope (default 'eval_image').
    central_crop: False skips the central crop (as central_fraction=1).
    use_grayscale: return 1 channel instead of 3.

  Returns:
    float32 Tensor [height, width, 1 or 3] in [-1, 1].
  """
  if not central_crop:
    central_fraction = None
  with tf.name_scope(scope, 'eval_image', [image, height, width]):
    if isinstance(image, encoded_image.EncodedImage):
      image = _decode_for_eval(image, height, width, central_fraction)
      central_fraction = None  # Done.
    image = preprocessing_utils.set_channels(_to_float(image), use_grayscale)
    if central_fraction and central_fraction < 1.0:
      image = tf.image.central_crop(image, central_fraction=central_fraction)
    if height and width:
      image = tf.image.resize_images(
          image, [height, width], method=tf.image.ResizeMethod.BILINEAR,
          align_corners=False)
    # Bilinear weights sum to one only up to rounding.
    image = tf.clip_by_value(image, 0.0, 1.0)
    return _to_signed_unit_range(image)


def preprocess_image(image, height, width, is_training=False, bbox=None,
                     fast_mode=True, add_image_summaries=True,
                     crop_image=True, use_grayscale=False,
                     random_crop=True, min_crop_area=MIN_CROP_AREA,
                     color_distortion=True, random_rotate_90=False,
                     central_fraction=_CENTRAL_FRACTION):
  """Preprocesses one image for the Inception-style networks.

  Args:
    image: uint8 Tensor [height, width, 1 or 3], or float in [0, 1], or an
      EncodedImage (decoded only as far as needed).
    height: int, output height in pixels.
    width: int, output width in pixels.
    is_training: random augmentation if True, deterministic eval otherwise.
    bbox: training only, see preprocess_for_train.
    fast_mode: training only, see preprocess_for_train.
    add_image_summaries: training only, add image summaries.
    crop_image: research/slim's switch: False means neither the random crop
      (training) nor the central crop (eval).
    use_grayscale: return 1 channel instead of 3.
    random_crop: training only, see preprocess_for_train.
    min_crop_area: training only, see preprocess_for_train.
    color_distortion: training only, see preprocess_for_train.
    random_rotate_90: training only, see preprocess_for_train.
    central_fraction: eval only, see preprocess_for_eval.

  Returns:
    float32 Tensor [height, width, 1 or 3] in [-1, 1].
  """
  if is_training:
    return preprocess_for_train(
        image, height, width, bbox=bbox, fast_mode=fast_mode,
        add_image_summaries=add_image_summaries,
        random_crop=random_crop and crop_image, min_crop_area=min_crop_area,
        color_distortion=color_distortion,
        random_rotate_90=random_rotate_90, use_grayscale=use_grayscale)
  return preprocess_for_eval(image, height, width,
                             central_fraction=central_fraction,
                             central_crop=crop_image,
                             use_grayscale=use_grayscale)
