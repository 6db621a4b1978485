"""engines/inference.py: the evaluation preprocessing of encoded images
(export, classify and serving share it)."""

import io

import numpy as np
from PIL import Image
import pytest
import tensorflow.compat.v1 as tf

from slimvision.core.errors import UserError
from slimvision.engines import inference

RED, GREEN = (1.0, -1.0, -1.0), (-1.0, 1.0, -1.0)  # In [-1, 1].


def _framed_png(size=32, frame=2):
  """PNG bytes of a green square inside a red frame `frame` pixels wide."""
  pixels = np.zeros((size, size, 3), np.uint8)
  pixels[..., 0] = 255
  pixels[frame:size - frame, frame:size - frame] = (0, 255, 0)
  buffer = io.BytesIO()
  Image.fromarray(pixels).save(buffer, format='PNG')
  return buffer.getvalue()


def _preprocessed(png, **kwargs):
  with tf.Graph().as_default(), tf.Session() as session:
    feed = tf.placeholder(tf.string, [None])
    return session.run(inference.preprocess_encoded(
        feed, 'mobilenet_v1_025', **kwargs), {feed: [png]})[0]


def test_central_crop_fraction_sets_how_much_of_the_image_is_kept():
  png = _framed_png()
  # The inception default, 0.875, keeps the central 28 of 32 rows and
  # columns: the green square, without its frame.
  np.testing.assert_allclose(_preprocessed(png, image_size=28),
                             np.broadcast_to(GREEN, (28, 28, 3)), atol=1e-6)
  whole = _preprocessed(png, image_size=32, central_crop_fraction=1.0)
  expected = np.broadcast_to(RED, (32, 32, 3)).copy()
  expected[2:30, 2:30] = GREEN
  np.testing.assert_allclose(whole, expected, atol=1e-6)
  np.testing.assert_allclose(
      _preprocessed(png, image_size=16, central_crop_fraction=0.5),
      np.broadcast_to(GREEN, (16, 16, 3)), atol=1e-6)


def test_central_crop_options_and_the_families_without_a_central_crop():
  assert inference.eval_preprocessing_options('mobilenet_v1', None) == {}
  assert inference.eval_preprocessing_options('inception', 0.5) == {
      'central_fraction': 0.5}
  assert inference.eval_preprocessing_options('mobilenet_v3_small', 1.0) == {
      'central_fraction': 1.0}
  for name, family in (('cifarnet', 'cifarnet'), ('vgg_16', 'vgg'),
                       ('lenet', 'lenet')):
    with pytest.raises(UserError) as raised:
      inference.eval_preprocessing_options(name, 1.0)
    assert str(raised.value) == (
        '--central_crop_fraction applies to the inception preprocessing; '
        '%s uses the %s preprocessing' % (name, family))
