"""Inference graphs shared by classify_image.py and the export script.

The graph maps encoded image files (JPEG, PNG, GIF, BMP bytes) through the
model's eval preprocessing and network to class probabilities, so the
exported models and the classify command preprocess exactly like
eval_image_classifier.py does.
"""

import os

from PIL import Image
import tensorflow.compat.v1 as tf

from slimvision.core.errors import UserError
from slimvision.datasets import dataset_utils
from slimvision.nets import nets_factory
from slimvision.preprocessing import preprocessing_factory


def preprocess_encoded(encoded, model_name, image_size=None,
                       preprocessing_name=None, use_grayscale=False):
  """Decodes and preprocesses a batch of encoded images.

  Args:
    encoded: string Tensor [batch] of image file bytes.
    model_name: network name (chooses the default size and preprocessing).
    image_size: side in pixels (default: the network's).
    preprocessing_name: overrides the model's preprocessing family.
    use_grayscale: one-channel input.

  Returns:
    float32 Tensor [batch, size, size, 1 or 3].
  """
  size = image_size or nets_factory.get_network_fn(
      model_name, 1).default_image_size
  preprocess = preprocessing_factory.get_preprocessing(
      preprocessing_name or model_name, is_training=False,
      use_grayscale=use_grayscale)

  def one(image_bytes):
    image = tf.io.decode_image(image_bytes, channels=3,
                               expand_animations=False)
    image.set_shape([None, None, 3])
    return preprocess(image, size, size)

  return tf.map_fn(one, encoded, fn_output_signature=tf.float32)


def build_classifier(images, model_name, num_classes):
  """Network in inference mode; returns (logits, probabilities)."""
  network_fn = nets_factory.get_network_fn(model_name, num_classes,
                                           is_training=False)
  logits, _ = network_fn(images)
  return logits, tf.nn.softmax(logits, name='probabilities')


def read_image_files(paths):
  """The bytes of each image file, after checking it is a readable image.

  Raises:
    UserError: a missing file or one that is not an image.
  """
  contents = []
  for path in paths:
    if not os.path.isfile(path):
      raise UserError('image file %s does not exist' % path)
    try:
      with Image.open(path) as image:
        image.verify()
    except Exception as e:  # PIL raises many types for non-images.
      raise UserError('%s is not a readable image (%s)' % (path, e))
    with open(path, 'rb') as f:
      contents.append(f.read())
  return contents


def load_labels(labels_file=None, dataset_dir=None):
  """{index: name} from --labels_file or DATASET_DIR/labels.txt, or None."""
  if labels_file:
    if not os.path.isfile(labels_file):
      raise UserError('--labels_file %s does not exist' % labels_file)
    return dataset_utils.read_label_file(os.path.dirname(labels_file) or '.',
                                         os.path.basename(labels_file))
  if dataset_dir and dataset_utils.has_labels(dataset_dir):
    return dataset_utils.read_label_file(dataset_dir)
  return None
