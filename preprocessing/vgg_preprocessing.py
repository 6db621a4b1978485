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


# research/slim's module-level helpers keep its names and arguments: code
# written against it imports them (_mean_image_subtraction with _R_MEAN...,
# _aspect_preserving_resize).


def _crop(image, offset_height, offset_width, crop_height, crop_width):
  """The crop_height x crop_width window of `image` at the offsets.

  Args:
    image: Tensor [height, width, channels].
    offset_height, offset_width: int or int32 scalar Tensors.
    crop_height, crop_width: int or int32 scalar Tensors.

  Returns:
    Tensor [crop_height, crop_width, channels]. Running it fails
    (InvalidArgumentError) when `image` is not rank 3 or is smaller than
    the window.
  """
  shape = tf.shape(image)
  checks = [
      tf.assert_rank(image, 3, message='Rank of image must be equal to 3.'),
      tf.Assert(tf.logical_and(tf.greater_equal(shape[0], crop_height),
                               tf.greater_equal(shape[1], crop_width)),
                ['Crop size greater than the image size.'])]
  size = tf.stack([crop_height, crop_width, shape[2]])
  with tf.control_dependencies(checks):
    begin = tf.cast(tf.stack([offset_height, offset_width, 0]), tf.int32)
    return tf.reshape(tf.slice(image, begin, size), size)


def _random_crop(image_list, crop_height, crop_width):
  """The same random crop_height x crop_width window of each image.

  Args:
    image_list: Tensors [height, width, channels] of one height and width.
    crop_height, crop_width: ints, the window.

  Returns:
    The list of crops. Running them fails when an image is smaller than
    the window or its size differs from the first image's.

  Raises:
    ValueError: image_list is empty.
  """
  if not image_list:
    raise ValueError('Empty image_list.')
  shape = tf.shape(image_list[0])
  checks = [tf.assert_equal(tf.shape(image)[:2], shape[:2],
                            message='Wrong height or width for tensor %s' %
                            image.name) for image in image_list[1:]]
  with tf.control_dependencies(checks):
    offset_height = tf.random_uniform(
        [], maxval=tf.maximum(shape[0] - crop_height + 1, 1), dtype=tf.int32)
    offset_width = tf.random_uniform(
        [], maxval=tf.maximum(shape[1] - crop_width + 1, 1), dtype=tf.int32)
  return [_crop(image, offset_height, offset_width, crop_height, crop_width)
          for image in image_list]


def _central_crop(image_list, crop_height, crop_width):
  """The central crop_height x crop_width window of each image (offsets
  rounded down)."""
  crops = []
  for image in image_list:
    shape = tf.shape(image)
    crops.append(_crop(image, (shape[0] - crop_height) // 2,
                       (shape[1] - crop_width) // 2, crop_height, crop_width))
  return crops


def _mean_image_subtraction(image, means):
  """`image` minus means[c] in each channel c.

  Raises:
    ValueError: `image` is not of static rank 3, or its channel count
      differs from len(means).
  """
  if image.get_shape().ndims != 3:
    raise ValueError('Input must be of size [height, width, C>0]')
  if len(means) != image.get_shape().as_list()[-1]:
    raise ValueError('len(means) must match the number of channels')
  return preprocessing_utils.subtract_means(image, means)


def _smallest_size_at_least(height, width, smallest_side):
  """(new_height, new_width), int32 scalar Tensors: the size with the
  smaller side `smallest_side` and the same aspect ratio (rounded half to
  even)."""
  height = tf.cast(height, tf.float32)
  width = tf.cast(width, tf.float32)
  scale = tf.cast(smallest_side, tf.float32) / tf.minimum(height, width)
  return (tf.cast(tf.round(height * scale), tf.int32),
          tf.cast(tf.round(width * scale), tf.int32))


def _aspect_preserving_resize(image, smallest_side):
  """Bilinear resize keeping the aspect ratio.

  Args:
    image: Tensor [height, width, channels].
    smallest_side: int or int32 scalar Tensor, the new length in pixels of
      the smaller of height and width.

  Returns:
    float32 Tensor [new_height, new_width, channels], min(new_height,
    new_width) == smallest_side, the other side rounded to keep the ratio.
  """
  shape = tf.shape(image)
  new_size = _smallest_size_at_least(shape[0], shape[1], smallest_side)
  image = tf.image.resize_images(image, tf.stack(new_size),
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
  image = _aspect_preserving_resize(image, resize_side)
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
  image = _aspect_preserving_resize(image, resize_side)
  image = tf.image.resize_with_crop_or_pad(image, output_height, output_width)
  return _subtract_mean_pixel(image)


def preprocess_image(image, output_height, output_width, is_training=False,
                     resize_side_min=_RESIZE_SIDE_MIN,
                     resize_side_max=_RESIZE_SIDE_MAX, use_grayscale=False,
                     resize_side=None):
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
    use_grayscale: return 1 channel instead of 3.
    resize_side: eval: smaller-side length (pixels); defaults to
      resize_side_min, as in research/slim (whose parameters come first).

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
