"""CifarNet preprocessing: CIFAR-style padding, crop, flip and colour jitter.

Pixel values stay on the 0-255 scale until the final per-image
standardisation, which leaves every output image with zero mean and unit
variance (over all its pixels and channels).
"""

import tensorflow.compat.v1 as tf

from slimvision.preprocessing import encoded_image
from slimvision.preprocessing import preprocessing_utils

# preprocess_image takes an EncodedImage too (see encoded_image.py).
ACCEPTS_ENCODED_IMAGE = True
# Per-image standardisation has no fixed output range.
OUTPUT_RANGE = None

_PADDING = 4
_MAX_BRIGHTNESS_DELTA = 63  # In 0-255 pixel units.
_CONTRAST_RANGE = (0.2, 1.8)


def _to_float(image, use_grayscale):
  """uint8 or float [h, w, 1 or 3] -> float32 [h, w, 1 or 3], 0-255 scale."""
  image = tf.cast(image, tf.float32)
  return preprocessing_utils.set_channels(image, use_grayscale)


def _random_window(size, output_size, padding):
  """Along one axis of an image `size` pixels long: the random crop of
  `output_size` that pad-by-`padding`, pad_to_at_least and random_crop
  take, as (first pixel in the image, pixels of the image in the crop,
  position of that first pixel in the crop); int32 scalars."""
  padded = size + 2 * padding
  total = tf.maximum(padded, output_size)
  start = padding + (total - padded) // 2  # The image's first pixel.
  offset = tf.random_uniform([], 0, total - output_size + 1, tf.int32)
  first = tf.maximum(offset, start)
  last = tf.minimum(offset + output_size, start + size)
  return first - start, last - first, first - offset


def _random_padded_crop(image, output_height, output_width, padding):
  """The random crop of preprocess_for_train: a window of the image padded
  by `padding` (and up to the output size), taken before any conversion so
  that only the window's pixels are decoded (an EncodedImage) or converted
  to float (a pixel Tensor). Returns the window in the input's dtype,
  [output_height, output_width, channels]."""
  if isinstance(image, encoded_image.EncodedImage):
    shape, channels, crop = image.shape, image.channels, image.crop
    dtype = tf.uint8
  else:
    shape, dtype = tf.shape(image), image.dtype
    channels = image.shape[2] if image.shape.rank == 3 else None
    channels = channels if channels is not None else shape[2]

    def crop(top, left, rows, cols):
      return tf.slice(image, [top, left, 0], [rows, cols, -1])

  top, rows, row_at = _random_window(shape[0], output_height, padding)
  left, cols, col_at = _random_window(shape[1], output_width, padding)

  def window():
    return tf.image.pad_to_bounding_box(
        crop(top, left, rows, cols), row_at, col_at, output_height,
        output_width)

  # With padding of at least the output size the window can miss the image.
  return tf.cond(tf.logical_and(rows > 0, cols > 0), window,
                 lambda: tf.zeros([output_height, output_width, channels],
                                  dtype))


def preprocess_for_train(image, output_height, output_width,
                         padding=_PADDING, add_image_summaries=True,
                         use_grayscale=False):
  """Random pad-and-crop, flip, brightness and contrast, standardisation.

  Args:
    image: uint8 or float Tensor [height, width, 1 or 3], values 0-255, or
      an EncodedImage, of which only the crop is decoded.
    output_height: int, output height in pixels.
    output_width: int, output width in pixels.
    padding: zero pixels added on each side before the random crop.
    add_image_summaries: add a `image` summary of the input.
    use_grayscale: return 1 channel instead of 3.

  Returns:
    float32 Tensor [output_height, output_width, 1 or 3], standardised.
  """
  if add_image_summaries and not isinstance(image,
                                            encoded_image.EncodedImage):
    tf.summary.image('image', tf.expand_dims(image, 0))
  image = _to_float(_random_padded_crop(image, output_height, output_width,
                                        padding), use_grayscale)
  image = tf.image.random_flip_left_right(image)
  image = tf.image.random_brightness(image, max_delta=_MAX_BRIGHTNESS_DELTA)
  image = tf.image.random_contrast(image, lower=_CONTRAST_RANGE[0],
                                   upper=_CONTRAST_RANGE[1])
  if add_image_summaries:
    tf.summary.image('distorted_image', tf.expand_dims(image, 0))
  return tf.image.per_image_standardization(image)


def preprocess_for_eval(image, output_height, output_width,
                        add_image_summaries=True, use_grayscale=False):
  """Central crop (or zero-pad) to the output size, then standardisation.

  Args:
    image: uint8 or float Tensor [height, width, 1 or 3], values 0-255, or
      an EncodedImage, of which only the central crop is decoded.
    output_height: int, output height in pixels.
    output_width: int, output width in pixels.
    add_image_summaries: add a `image` summary of the input.
    use_grayscale: return 1 channel instead of 3.

  Returns:
    float32 Tensor [output_height, output_width, 1 or 3], standardised.
  """
  if isinstance(image, encoded_image.EncodedImage):
    image = encoded_image.central_window(image, output_height, output_width)
  if add_image_summaries:
    tf.summary.image('image', tf.expand_dims(image, 0))
  image = _to_float(image, use_grayscale)
  image = tf.image.resize_with_crop_or_pad(image, output_height, output_width)
  return tf.image.per_image_standardization(image)


def preprocess_image(image, output_height, output_width, is_training=False,
                     add_image_summaries=True, use_grayscale=False,
                     padding=_PADDING):
  """Preprocesses one image for CifarNet.

  Args:
    image: uint8 or float Tensor [height, width, 1 or 3], values 0-255, or
      an EncodedImage (decoded only as far as needed).
    output_height: int, output height in pixels.
    output_width: int, output width in pixels.
    is_training: random augmentation if True, deterministic eval otherwise.
    add_image_summaries: add image summaries.
    use_grayscale: return 1 channel instead of 3.
    padding: training only, zero pixels added on each side before the
      random crop.

  Returns:
    float32 Tensor [output_height, output_width, 1 or 3].
  """
  if is_training:
    return preprocess_for_train(
        image, output_height, output_width, padding=padding,
        add_image_summaries=add_image_summaries, use_grayscale=use_grayscale)
  return preprocess_for_eval(
      image, output_height, output_width,
      add_image_summaries=add_image_summaries, use_grayscale=use_grayscale)
