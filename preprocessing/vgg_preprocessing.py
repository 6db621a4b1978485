"""VGG / ResNet preprocessing: aspect-preserving resize, crop, mean pixel.

Training resizes so that the smaller side is a random length in
[resize_side_min, resize_side_max], takes a random crop and flips it at
random; evaluation resizes the smaller side to a fixed length and takes the
central crop. Both subtract the ImageNet mean pixel, on the 0-255 scale.
"""

import tensorflow.compat.v1 as tf

from slimvision.preprocessing import encoded_image
from slimvision.preprocessing import preprocessing_utils

# preprocess_image takes an EncodedImage too (see encoded_image.py).
ACCEPTS_ENCODED_IMAGE = True

# ImageNet mean pixel, R, G, B, 0-255 scale.
_R_MEAN = 123.68
_G_MEAN = 116.78
_B_MEAN = 103.94
_RGB_MEANS = (_R_MEAN, _G_MEAN, _B_MEAN)
# The gray value of the mean pixel, subtracted from 1-channel outputs.
_GRAY_MEAN = preprocessing_utils.rgb_to_gray_value(_RGB_MEANS)
# The values its outputs take (the integer export's input range): any
# channel minus any mean (zero padding included).
OUTPUT_RANGE = (-max(_RGB_MEANS), 255.0 - min(_RGB_MEANS))

_RESIZE_SIDE_MIN = 256
_RESIZE_SIDE_MAX = 512


def _smallest_side_resize(image, smallest_side):
  """Bilinear resize keeping the aspect ratio.

  Args:
    image: float Tensor [height, width, channels].
    smallest_side: int or int32 scalar Tensor, the new length in pixels of
      the smaller of height and width.

  Returns:
    float32 Tensor [new_height, new_width, channels], min(new_height,
    new_width) == smallest_side, the other side rounded to keep the ratio.
  """
  shape = tf.shape(image)
  height = tf.cast(shape[0], tf.float32)
  width = tf.cast(shape[1], tf.float32)
  scale = tf.cast(smallest_side, tf.float32) / tf.minimum(height, width)
  new_height = tf.cast(tf.round(height * scale), tf.int32)
  new_width = tf.cast(tf.round(width * scale), tf.int32)
  image = tf.image.resize_images(image, [new_height, new_width],
                                 method=tf.image.ResizeMethod.BILINEAR,
                                 align_corners=False)
  image.set_shape([None, None, image.shape[-1]])
  return image


def _to_float(image, use_grayscale):
  """uint8 or float [h, w, 1 or 3] -> float32 [h, w, 1 or 3], 0-255 scale."""
  image = tf.cast(image, tf.float32)
  return preprocessing_utils.set_channels(image, use_grayscale)


def _subtract_mean_pixel(image):
  """Subtracts the RGB mean pixel, or its gray value from 1-channel images."""
  channels = image.shape[-1]
  means = _RGB_MEANS if channels == 3 else (_GRAY_MEAN,)
  return preprocessing_utils.subtract_means(image, means)


def preprocess_for_train(image, output_height, output_width,
                         resize_side_min=_RESIZE_SIDE_MIN,
                         resize_side_max=_RESIZE_SIDE_MAX,
                         use_grayscale=False):
  """Random-scale resize, random crop, random flip, mean subtraction.

  Args:
    image: uint8 or float Tensor [height, width, 1 or 3], values 0-255,
      or an EncodedImage (decoded at the smallest scale that keeps its
      smaller side at least the resized length).
    output_height: int, output height in pixels.
    output_width: int, output width in pixels.
    resize_side_min: smallest length of the resized smaller side (pixels).
    resize_side_max: largest length of the resized smaller side (pixels).
    use_grayscale: return 1 channel instead of 3.

  Returns:
    float32 Tensor [output_height, output_width, 1 or 3], mean pixel
    subtracted (0-255 scale).
  """
  resize_side = tf.random_uniform([], minval=resize_side_min,
                                  maxval=resize_side_max + 1, dtype=tf.int32)
  if isinstance(image, encoded_image.EncodedImage):
    image = image.scaled(resize_side, resize_side)
  image = _to_float(image, use_grayscale)
  channels = image.shape[-1]
  image = _smallest_side_resize(image, resize_side)
  # Only needed when the output is larger than the resized image.
  image = preprocessing_utils.pad_to_at_least(image, output_height,
                                              output_width)
  image = tf.random_crop(image, [output_height, output_width, channels])
  image = tf.image.random_flip_left_right(image)
  return _subtract_mean_pixel(image)


def preprocess_for_eval(image, output_height, output_width,
                        resize_side=_RESIZE_SIDE_MIN, use_grayscale=False):
  """Fixed-scale resize, central crop, mean subtraction.

  Args:
    image: uint8 or float Tensor [height, width, 1 or 3], values 0-255,
      or an EncodedImage (decoded at the smallest scale that keeps its
      smaller side at least the resized length).
    output_height: int, output height in pixels.
    output_width: int, output width in pixels.
    resize_side: length in pixels of the resized smaller side.
    use_grayscale: return 1 channel instead of 3.

  Returns:
    float32 Tensor [output_height, output_width, 1 or 3], mean pixel
    subtracted (0-255 scale). Outputs larger than the resized image are
    zero-padded (before the mean subtraction).
  """
  if isinstance(image, encoded_image.EncodedImage):
    image = image.scaled(resize_side, resize_side)
  image = _to_float(image, use_grayscale)
  image = _smallest_side_resize(image, resize_side)
  image = tf.image.resize_with_crop_or_pad(image, output_height, output_width)
  return _subtract_mean_pixel(image)


def preprocess_image(image, output_height, output_width, is_training=False,
                     resize_side_min=_RESIZE_SIDE_MIN,
                     resize_side_max=_RESIZE_SIDE_MAX, resize_side=None,
                     use_grayscale=False):
  """Preprocesses one image for VGG, ResNet and the other `vgg` models.

  Args:
    image: uint8 or float Tensor [height, width, 1 or 3], values 0-255,
      or an EncodedImage (decoded at the smallest scale that keeps its
      smaller side at least the resized length).
    output_height: int, output height in pixels.
    output_width: int, output width in pixels.
    is_training: random augmentation if True, deterministic eval otherwise.
    resize_side_min: training: smallest random smaller-side length (pixels).
    resize_side_max: training: largest random smaller-side length (pixels).
    resize_side: eval: smaller-side length (pixels); defaults to
      resize_side_min.
    use_grayscale: return 1 channel instead of 3.

  Returns:
    float32 Tensor [output_height, output_width, 1 or 3].
  """
  if is_training:
    return preprocess_for_train(
        image, output_height, output_width, resize_side_min=resize_side_min,
        resize_side_max=resize_side_max, use_grayscale=use_grayscale)
  if resize_side is None:
    resize_side = resize_side_min
  return preprocess_for_eval(image, output_height, output_width,
                             resize_side=resize_side,
                             use_grayscale=use_grayscale)
