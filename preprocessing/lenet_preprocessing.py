"""LeNet preprocessing: central crop or pad, then scale 0-255 to [-1, 1).

There is no augmentation: training and evaluation preprocess alike. The
channel count is kept (MNIST stays 1-channel) unless `use_grayscale` asks
for 1 channel.
"""

import tensorflow.compat.v1 as tf

from slimvision.preprocessing import encoded_image
from slimvision.preprocessing import preprocessing_utils

# preprocess_image takes an EncodedImage too (see encoded_image.py).
ACCEPTS_ENCODED_IMAGE = True

_CENTER = 128.0  # Pixel value mapped to 0.
_SCALE = 128.0   # Pixels per output unit: 0 -> -1, 255 -> 127/128.
# The values its outputs take (the integer export's input range).
OUTPUT_RANGE = (-_CENTER / _SCALE, (255.0 - _CENTER) / _SCALE)


def _preprocess(image, output_height, output_width, use_grayscale):
  if isinstance(image, encoded_image.EncodedImage):
    image = encoded_image.central_window(image, output_height, output_width)
  image = tf.cast(image, tf.float32)
  if use_grayscale:
    image = preprocessing_utils.to_grayscale(image)
  image = tf.image.resize_with_crop_or_pad(image, output_height, output_width)
  return (image - _CENTER) / _SCALE


def preprocess_for_train(image, output_height, output_width,
                         use_grayscale=False):
  """Same as preprocess_for_eval: LeNet training uses no augmentation.

  Args:
    image: uint8 or float Tensor [height, width, channels], values 0-255,
      or an EncodedImage (only the part kept is decoded).
    output_height: int, output height in pixels.
    output_width: int, output width in pixels.
    use_grayscale: return 1 channel (input must have 1 or 3).

  Returns:
    float32 Tensor [output_height, output_width, channels or 1] in [-1, 1)
    for inputs in 0-255.
  """
  return _preprocess(image, output_height, output_width, use_grayscale)


def preprocess_for_eval(image, output_height, output_width,
                        use_grayscale=False):
  """Central crop or zero-pad to the output size, then (x - 128) / 128.

  Args:
    image: uint8 or float Tensor [height, width, channels], values 0-255,
      or an EncodedImage (only the part kept is decoded).
    output_height: int, output height in pixels.
    output_width: int, output width in pixels.
    use_grayscale: return 1 channel (input must have 1 or 3).

  Returns:
    float32 Tensor [output_height, output_width, channels or 1] in [-1, 1)
    for inputs in 0-255 (padding pixels become -1).
  """
  return _preprocess(image, output_height, output_width, use_grayscale)


def preprocess_image(image, output_height, output_width, is_training=False,
                     use_grayscale=False):
  """Preprocesses one image for LeNet (see preprocess_for_eval).

  Args:
    image: uint8 or float Tensor [height, width, channels], values 0-255,
      or an EncodedImage (only the part kept is decoded).
    output_height: int, output height in pixels.
    output_width: int, output width in pixels.
    is_training: accepted for the common interface; makes no difference.
    use_grayscale: return 1 channel.

  Returns:
    float32 Tensor [output_height, output_width, channels or 1].
  """
  if is_training:
    return preprocess_for_train(image, output_height, output_width,
                                use_grayscale=use_grayscale)
  return preprocess_for_eval(image, output_height, output_width,
                             use_grayscale=use_grayscale)
