"""An image still encoded, decoded only as far as the preprocessing needs.

Decoding a whole JPEG and then keeping a crop of it, or shrinking it to a
small output, wastes most of the decode. libjpeg can decode only a window of
the image (`decode_and_crop_jpeg`) and can decode at 1/2, 1/4 or 1/8 scale in
the DCT domain (`ratio`), both for a fraction of the work. A preprocessing
family that knows which part and scale it needs asks an EncodedImage for
just that (see `crop` and `scaled`).

Other formats (PNG, GIF, BMP) are decoded whole by the dataset's own decoder
and then cropped, so they give what they always gave. The JPEG paths differ
from a whole decode only in rounding: a crop at most 2 levels (of 255) at its
edges, where the chroma planes are upsampled from fewer neighbours; a scaled
decode by what separates DCT scaling from bilinear resizing (measured in
tests/encoded_image_test.py).
"""

import tensorflow.compat.v1 as tf

# The scales libjpeg decodes at (1/ratio), largest reduction first.
RATIOS = (8, 4, 2, 1)


class EncodedImage(object):
  """One encoded image (a record's bytes) and ways to decode it.

  Attributes:
    shape: int32 Tensor [3], the decoded image's height, width and channels,
      read from the JPEG header (no decode) or, for other formats, from the
      whole decode.
    channels: int, the channels every decode gives (the dataset's).
  """

  def __init__(self, encoded, channels, decode_whole, is_jpeg=None):
    """Args:
      encoded: string Tensor [], the encoded image.
      channels: int, 1 or 3: the channels to decode to.
      decode_whole: function () -> uint8 Tensor [h, w, channels], the
        dataset's own decode of the record's image (used for non-JPEG
        images; it runs only for them).
      is_jpeg: bool Tensor [], whether to use the JPEG paths; by default
        whether the bytes start as a JPEG does.
    """
    self.encoded = encoded
    self.channels = channels
    self.is_jpeg = tf.io.is_jpeg(encoded) if is_jpeg is None else is_jpeg
    # Decoded once, only when the image is not a JPEG (else empty).
    self._other = tf.cond(
        self.is_jpeg,
        lambda: tf.zeros([0, 0, channels], tf.uint8),
        lambda: tf.cast(decode_whole(), tf.uint8))
    self.shape = tf.cond(
        self.is_jpeg,
        lambda: tf.concat([tf.image.extract_jpeg_shape(encoded)[:2],
                           [channels]], 0),
        lambda: tf.shape(self._other, out_type=tf.int32))

  def _decode(self, jpeg_fn, other_fn):
    image = tf.cond(self.is_jpeg, jpeg_fn, lambda: other_fn(self._other))
    image.set_shape([None, None, self.channels])
    return image

  def whole(self):
    """The whole image, uint8 [height, width, channels]."""
    return self._decode(
        lambda: tf.io.decode_jpeg(self.encoded, channels=self.channels),
        lambda image: image)

  def crop(self, offset_height, offset_width, height, width):
    """A window of the image, decoding only that window.

    Args:
      offset_height, offset_width: int32 scalars, the window's top left
        corner in pixels; the window must lie inside the image.
      height, width: int32 scalars, the window's size in pixels (> 0).

    Returns:
      uint8 Tensor [height, width, channels].
    """
    window = tf.stack([offset_height, offset_width, height, width])
    return self._decode(
        lambda: tf.io.decode_and_crop_jpeg(self.encoded, window,
                                           channels=self.channels),
        lambda image: tf.slice(image, [offset_height, offset_width, 0],
                               [height, width, -1]))

  def scaled(self, min_height, min_width):
    """The whole image, decoded at the smallest of 1, 1/2, 1/4 and 1/8
    scale that leaves it at least min_height x min_width pixels.

    For a preprocessing that resizes the image (or a fixed fraction of it)
    to min_height x min_width anyway: it then resizes from fewer pixels.
    An image already smaller is decoded whole.

    Args:
      min_height, min_width: ints or int32 scalars, pixels.

    Returns:
      uint8 Tensor [ceil(height / r), ceil(width / r), channels], r the
      ratio chosen (1 for formats other than JPEG).
    """
    height, width = self.shape[0], self.shape[1]
    return self._decode(
        lambda: _at_largest_ratio(
            # libjpeg's scaled size rounds up.
            lambda r: tf.logical_and((height + r - 1) // r >= min_height,
                                     (width + r - 1) // r >= min_width),
            lambda r: tf.io.decode_jpeg(self.encoded, channels=self.channels,
                                        ratio=r)),
        lambda image: image)

  def scaled_crop(self, offset_height, offset_width, height, width,
                  min_height, min_width):
    """A window of the image, decoded at the smallest of 1, 1/2, 1/4 and
    1/8 scale that leaves the window at least min_height x min_width pixels.

    For a preprocessing that resizes a crop to min_height x min_width.

    Args:
      offset_height, offset_width: int32 scalars, the window's top left
        corner in pixels of the whole image; the window must lie inside it.
      height, width: int32 scalars, the window's size in pixels (> 0).
      min_height, min_width: ints or int32 scalars, pixels.

    Returns:
      uint8 Tensor [height // r, width // r, channels] (at least 1 x 1), r
      the ratio chosen (1 for formats other than JPEG).
    """

    def decode_at(ratio):
      # The window in the scaled image's pixels, inside its (rounded up)
      # size: libjpeg takes the window in those.
      top, left = offset_height // ratio, offset_width // ratio
      scaled_height = (self.shape[0] + ratio - 1) // ratio
      scaled_width = (self.shape[1] + ratio - 1) // ratio
      window = tf.stack([
          top, left,
          tf.maximum(1, tf.minimum(height // ratio, scaled_height - top)),
          tf.maximum(1, tf.minimum(width // ratio, scaled_width - left))])
      return tf.io.decode_and_crop_jpeg(self.encoded, window,
                                        channels=self.channels, ratio=ratio)

    return self._decode(
        lambda: _at_largest_ratio(
            lambda r: tf.logical_and(height // r >= min_height,
                                     width // r >= min_width),
            decode_at),
        lambda image: tf.slice(image, [offset_height, offset_width, 0],
                               [height, width, -1]))


def _at_largest_ratio(fits, decode_at):
  """decode_at(r) for the largest r of RATIOS with fits(r) (a bool Tensor),
  else decode_at(1). Only the chosen decode runs."""
  index = tf.argmax(tf.stack([fits(r) for r in RATIOS[:-1]] +
                             [tf.constant(True)]))
  return tf.switch_case(tf.cast(index, tf.int32),
                        [lambda r=r: decode_at(r) for r in RATIOS])


def central_window(image, height, width):
  """The part of an EncodedImage that
  tf.image.resize_with_crop_or_pad(image, height, width) keeps, decoded
  alone: uint8 [min(image height, height), min(image width, width),
  channels]. Padding it the same way then gives that function's result."""
  crop_height = tf.minimum(image.shape[0], height)
  crop_width = tf.minimum(image.shape[1], width)
  return image.crop((image.shape[0] - crop_height) // 2,
                    (image.shape[1] - crop_width) // 2, crop_height,
                    crop_width)
