"""Image helpers shared by the preprocessing families.

Every function takes and returns a single image Tensor [height, width,
channels] (no batch dimension) and works in graph mode.
"""

import tensorflow.compat.v1 as tf

# The luma weights tf.image.rgb_to_grayscale uses (ITU-R BT.601), R, G, B.
GRAYSCALE_WEIGHTS = (0.2989, 0.5870, 0.1140)


def rgb_to_gray_value(rgb):
  """The grayscale value of one RGB triple (e.g. a per-channel mean).

  Args:
    rgb: sequence of 3 Python numbers, R, G, B.

  Returns:
    A Python float, the value tf.image.rgb_to_grayscale gives that pixel.
  """
  return float(sum(w * v for w, v in zip(GRAYSCALE_WEIGHTS, rgb)))


def _static_channels(image):
  """The static channel count of `image`, or None when it is unknown."""
  if image.shape.rank is None:
    return None
  return tf.compat.dimension_value(image.shape[-1])


def _assert_one_or_three_channels(image):
  """Run-time check for images whose channel count is not known statically."""
  channels = tf.shape(image)[-1]
  return tf.Assert(
      tf.logical_or(tf.equal(channels, 1), tf.equal(channels, 3)),
      ['image must have 1 or 3 channels; got', channels])


def to_rgb(image):
  """Makes a [height, width, 1 or 3] image 3-channel.

  A 1-channel image is repeated into R, G and B; a 3-channel one is returned
  unchanged.

  Args:
    image: Tensor [height, width, 1 or 3], any dtype.

  Returns:
    Tensor [height, width, 3] of the same dtype.

  Raises:
    ValueError: if the static channel count is neither 1 nor 3.
  """
  channels = _static_channels(image)
  if channels == 3:
    return image
  if channels == 1:
    return tf.image.grayscale_to_rgb(image)
  if channels is not None:
    raise ValueError('image must have 1 or 3 channels; got %d' % channels)
  with tf.control_dependencies([_assert_one_or_three_channels(image)]):
    rgb = tf.cond(tf.equal(tf.shape(image)[-1], 1),
                  lambda: tf.tile(image, [1, 1, 3]),
                  lambda: tf.identity(image))
  rgb.set_shape(image.shape[:-1].concatenate([3]) if image.shape.rank
                else [None, None, 3])
  return rgb


def to_grayscale(image):
  """Makes a [height, width, 1 or 3] image 1-channel.

  Args:
    image: Tensor [height, width, 1 or 3], any dtype (RGB when 3 channels).

  Returns:
    Tensor [height, width, 1] of the same dtype (luma, see GRAYSCALE_WEIGHTS).

  Raises:
    ValueError: if the static channel count is neither 1 nor 3.
  """
  channels = _static_channels(image)
  if channels == 1:
    return image
  if channels == 3:
    return tf.image.rgb_to_grayscale(image)
  if channels is not None:
    raise ValueError('image must have 1 or 3 channels; got %d' % channels)
  with tf.control_dependencies([_assert_one_or_three_channels(image)]):
    gray = tf.cond(tf.equal(tf.shape(image)[-1], 1),
                   lambda: tf.identity(image),
                   lambda: tf.image.rgb_to_grayscale(image))
  gray.set_shape(image.shape[:-1].concatenate([1]) if image.shape.rank
                 else [None, None, 1])
  return gray


def set_channels(image, use_grayscale):
  """1 channel if `use_grayscale`, else 3 (see to_grayscale / to_rgb)."""
  return to_grayscale(image) if use_grayscale else to_rgb(image)


def pad_to_at_least(image, height, width):
  """Zero-pads `image` evenly on all sides up to at least height x width.

  Sides already as large as the target are left alone, so a later crop of
  height x width always fits.

  Args:
    image: Tensor [h, w, channels].
    height: int, minimum output height in pixels.
    width: int, minimum output width in pixels.

  Returns:
    Tensor [max(h, height), max(w, width), channels], the input centred.
  """
  shape = tf.shape(image)
  target_height = tf.maximum(shape[0], height)
  target_width = tf.maximum(shape[1], width)
  return tf.image.pad_to_bounding_box(
      image, (target_height - shape[0]) // 2, (target_width - shape[1]) // 2,
      target_height, target_width)


def subtract_means(image, means):
  """Subtracts one mean per channel.

  Args:
    image: float Tensor [height, width, len(means)].
    means: sequence of Python numbers, one per channel.

  Returns:
    float Tensor of the same shape, `image - means` per channel.

  Raises:
    ValueError: if the static channel count differs from len(means).
  """
  channels = _static_channels(image)
  if channels is not None and channels != len(means):
    raise ValueError('image has %d channels but %d means were given' %
                     (channels, len(means)))
  return image - tf.constant(means, dtype=image.dtype)
