"""Inception preprocessing: distorted-box crop and colour jitter, [-1, 1].

Used by the Inception, MobileNet and NASNet families. Training samples a
random crop that covers part of the (given or whole-image) bounding box,
resizes it to the output size with a randomly chosen method, flips it at
random and distorts its colours; evaluation takes a central crop and resizes
it bilinearly. Pixel values are handled in [0, 1] and finally mapped to
[-1, 1].
"""

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


def _color_distortions(fast_mode):
  """The orderings of colour distortions to choose from.

  Args:
    fast_mode: brightness then saturation, the one ordering TF-Slim's fast
      mode uses (hue and contrast are the slow ones).

  Returns:
    A list of functions float [h, w, 3] in [0, 1] -> float [h, w, 3] in
    [0, 1], each applying the distortions in a different order.
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
    orderings = [(brightness, saturation)]
  else:
    orderings = [(brightness, saturation, hue, contrast),
                 (saturation, brightness, contrast, hue),
                 (contrast, hue, brightness, saturation),
                 (hue, saturation, contrast, brightness)]

  def make(ordering):
    def distort(image):
      for fn in ordering:
        image = fn(image)
      return tf.clip_by_value(image, 0.0, 1.0)
    return distort

  return [make(ordering) for ordering in orderings]


def distort_color(image, fast_mode=True):
  """Random brightness, saturation (and hue, contrast in a random order).

  Args:
    image: float Tensor [height, width, 3], RGB in [0, 1].
    fast_mode: only brightness then saturation.

  Returns:
    float Tensor [height, width, 3] in [0, 1].
  """
  with tf.name_scope('distort_color'):
    distorted = _apply_random_case(image, _color_distortions(fast_mode))
    distorted.set_shape(image.shape)
    return distorted


def _sample_crop(image_shape, bbox, min_crop_area):
  """A random crop that covers part of one of `bbox`: (begin int32 [3],
  size int32 [3], the crop as a box [1, 1, 4]) for an image of
  `image_shape` (int32 [3]); see distorted_bounding_box_crop."""
  # tf.image.sample_distorted_bounding_box ignores the graph-level seed;
  # derive the op's seeds as other random ops do, so tf.set_random_seed
  # makes the crop reproducible (0, 0 means nondeterministic).
  seed, seed2 = tf.get_seed(None)
  return tf.raw_ops.SampleDistortedBoundingBoxV2(
      image_size=image_shape, bounding_boxes=bbox,
      min_object_covered=tf.constant(_MIN_OBJECT_COVERED, tf.float32),
      aspect_ratio_range=list(_ASPECT_RATIO_RANGE),
      area_range=[min_crop_area, 1.0], max_attempts=_MAX_ATTEMPTS,
      use_image_if_no_bounding_boxes=True, seed=seed or 0,
      seed2=seed2 or 0)


def distorted_bounding_box_crop(image, bbox, min_crop_area=MIN_CROP_AREA):
  """Crops a random box that covers part of one of `bbox`.

  Args:
    image: Tensor [height, width, channels].
    bbox: float Tensor [1, num_boxes, 4], boxes as [ymin, xmin, ymax, xmax]
      in fractions of the image size.
    min_crop_area: smallest crop, as a fraction of the image area (the
      largest is the whole image).

  Returns:
    (cropped image [crop_height, crop_width, channels], the crop as a box
    [1, 1, 4] in the same coordinates).
  """
  with tf.name_scope('distorted_bounding_box_crop'):
    begin, size, crop_box = _sample_crop(tf.shape(image), bbox, min_crop_area)
    return tf.slice(image, begin, size), crop_box


def _decode_for_train(image, height, width, bbox, random_crop, min_crop_area):
  """Decodes an EncodedImage as far as training needs: the random crop
  only, at the smallest scale that leaves it height x width or more (it is
  resized to that next); without random_crop the whole image so scaled."""
  if not random_crop:
    return image.scaled(height, width)
  with tf.name_scope('distorted_bounding_box_crop'):
    begin, size, _ = _sample_crop(image.shape, bbox, min_crop_area)
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


def preprocess_for_train(image, height, width, bbox=None, fast_mode=True,
                         add_image_summaries=True, random_crop=True,
                         min_crop_area=MIN_CROP_AREA, color_distortion=True,
                         random_rotate_90=False, use_grayscale=False):
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
  with tf.name_scope('distort_image'):
    if bbox is None:
      bbox = tf.constant([0.0, 0.0, 1.0, 1.0], tf.float32, [1, 1, 4])
    bbox = tf.convert_to_tensor(bbox, tf.float32)
    if isinstance(image, encoded_image.EncodedImage):
      image = _decode_for_train(image, height, width, bbox, random_crop,
                                min_crop_area)
      random_crop = False  # Done.
    # Colour distortions need RGB; a grayscale result is taken at the end.
    image = preprocessing_utils.to_rgb(_to_float(image))
    if random_crop:
      full_image = image
      image, crop_box = distorted_bounding_box_crop(image, bbox,
                                                    min_crop_area)
      if add_image_summaries:
        batch = tf.expand_dims(full_image, 0)
        tf.summary.image('image_with_bounding_boxes',
                         tf.image.draw_bounding_boxes(batch, bbox))
        tf.summary.image('image_with_distorted_box',
                         tf.image.draw_bounding_boxes(batch, crop_box))
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
      image = tf.image.rot90(image, tf.random.uniform([], 0, 4, tf.int32))
    if color_distortion:
      image = distort_color(image, fast_mode)
    if add_image_summaries:
      tf.summary.image('final_distorted_image', tf.expand_dims(image, 0))
    if use_grayscale:
      image = preprocessing_utils.to_grayscale(image)
    return _to_signed_unit_range(image)


def preprocess_for_eval(image, height, width,
                        central_fraction=_CENTRAL_FRACTION,
                        use_grayscale=False):
  """Central crop, bilinear resize, [-1, 1].

  Args:
    image: uint8 Tensor [h, w, 1 or 3], or float in [0, 1], or an
      EncodedImage, of which only the central crop is decoded (at a reduced
      scale when it is at least twice the output size).
    height: int output height in pixels, or None to skip the resize.
    width: int output width in pixels, or None to skip the resize.
    central_fraction: fraction of the height and width kept by the central
      crop; None or 1.0 keeps the whole image.
    use_grayscale: return 1 channel instead of 3.

  Returns:
    float32 Tensor [height, width, 1 or 3] in [-1, 1].
  """
  with tf.name_scope('eval_image'):
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


def preprocess_image(image, output_height, output_width, is_training=False,
                     bbox=None, fast_mode=True, add_image_summaries=True,
                     random_crop=True, min_crop_area=MIN_CROP_AREA,
                     color_distortion=True, random_rotate_90=False,
                     central_fraction=_CENTRAL_FRACTION, use_grayscale=False):
  """Preprocesses one image for the Inception-style networks.

  Args:
    image: uint8 Tensor [height, width, 1 or 3], or float in [0, 1], or an
      EncodedImage (decoded only as far as needed).
    output_height: int, output height in pixels.
    output_width: int, output width in pixels.
    is_training: random augmentation if True, deterministic eval otherwise.
    bbox: training only, see preprocess_for_train.
    fast_mode: training only, see preprocess_for_train.
    add_image_summaries: training only, add image summaries.
    random_crop: training only, see preprocess_for_train.
    min_crop_area: training only, see preprocess_for_train.
    color_distortion: training only, see preprocess_for_train.
    random_rotate_90: training only, see preprocess_for_train.
    central_fraction: eval only, see preprocess_for_eval.
    use_grayscale: return 1 channel instead of 3.

  Returns:
    float32 Tensor [output_height, output_width, 1 or 3] in [-1, 1].
  """
  if is_training:
    return preprocess_for_train(
        image, output_height, output_width, bbox=bbox, fast_mode=fast_mode,
        add_image_summaries=add_image_summaries, random_crop=random_crop,
        min_crop_area=min_crop_area, color_distortion=color_distortion,
        random_rotate_90=random_rotate_90, use_grayscale=use_grayscale)
  return preprocess_for_eval(image, output_height, output_width,
                             central_fraction=central_fraction,
                             use_grayscale=use_grayscale)
