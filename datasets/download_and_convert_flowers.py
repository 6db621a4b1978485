"""research/slim's `datasets.download_and_convert_flowers`: `run(dataset_dir)`.

The work is flowers.convert's: it downloads flower_photos.tgz into
dataset_dir/downloads (length-checked, kept for a later --overwrite), holds
out 350 photos for validation as TF-Slim does (seed 0), writes
flowers_{train,validation}_0000N-of-00005.tfrecord, labels.txt and
dataset_spec.json, and leaves a complete earlier conversion as it is.

ImageReader is research/slim's helper that converters of other image
folders import from here.
"""

import tensorflow.compat.v1 as tf

from slimvision.datasets import flowers


class ImageReader(object):
  """Decodes encoded images in a session, as research/slim's ImageReader:
  built in the default graph (a graph-mode one), then used with a session
  on it."""

  def __init__(self):
    self._encoded = tf.placeholder(dtype=tf.string)
    # decode_image reads JPEG as decode_jpeg does, and PNG, GIF and BMP too.
    self._decoded = tf.io.decode_image(self._encoded, channels=3,
                                       expand_animations=False)

  def read_image_dims(self, sess, image_data):
    """(height, width) of the encoded image `image_data` (bytes)."""
    image = self.decode_jpeg(sess, image_data)
    return image.shape[0], image.shape[1]

  def decode_jpeg(self, sess, image_data):
    """uint8 array [height, width, 3] of the encoded image `image_data`.

    Raises:
      tf.errors.InvalidArgumentError: bytes of no image format TensorFlow
        reads (as research/slim's).
    """
    return sess.run(self._decoded, feed_dict={self._encoded: image_data})


# research/slim's run(dataset_dir): our converter, whose other arguments
# have defaults.
run = flowers.convert
