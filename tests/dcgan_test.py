"""DCGAN generator and discriminator: research/slim's shapes, names, errors."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from slimvision.core.errors import UserError
from slimvision.nets import dcgan


def _variables(prefix=''):
  return {v.op.name: v.shape.as_list() for v in tf.global_variables()
          if v.op.name.startswith(prefix)}


def _shapes(end_points):
  return {name: t.shape.as_list() for name, t in end_points.items()}


def test_generator_layers_and_variables():
  with tf.Graph().as_default():
    logits, end_points = dcgan.generator(tf.zeros([2, 5]), depth=4,
                                         final_size=16, num_outputs=1)
    assert logits.shape.as_list() == [2, 16, 16, 1]
    assert _shapes(end_points) == {
        'deconv1': [2, 4, 4, 16], 'deconv2': [2, 8, 8, 8],
        'deconv3': [2, 16, 16, 4], 'logits': [2, 16, 16, 1]}
    variables = _variables()
    assert variables['Generator/deconv1/weights'] == [4, 4, 16, 5]
    assert variables['Generator/deconv2/BatchNorm/beta'] == [8]
    # The last transposed conv has no batch norm, hence biases.
    assert variables['Generator/deconv3/biases'] == [4]
    assert not _variables('Generator/deconv3/BatchNorm')
    assert variables['Generator/logits/weights'] == [1, 1, 4, 1]
    assert not _variables('Generator/deconv1/biases')


def test_discriminator_layers_and_variables():
  with tf.Graph().as_default():
    logits, end_points = dcgan.discriminator(tf.zeros([3, 8, 8, 3]), depth=4)
    assert logits.shape.as_list() == [3, 1]
    assert _shapes(end_points) == {
        'conv1': [3, 4, 4, 4], 'conv2': [3, 2, 2, 8], 'conv3': [3, 1, 1, 16],
        'logits': [3, 1]}
    variables = _variables()
    # No batch norm on the input layer; leaky ReLU convs; 1x1 logits conv.
    assert variables['Discriminator/conv1/biases'] == [4]
    assert not _variables('Discriminator/conv1/BatchNorm')
    assert variables['Discriminator/conv3/BatchNorm/moving_mean'] == [16]
    assert variables['Discriminator/Conv/weights'] == [1, 1, 16, 1]
    relus = [op for op in tf.get_default_graph().get_operations()
             if op.type == 'LeakyRelu']
    assert len(relus) == 3


def test_reuse_shares_the_variables_and_training_mode_runs():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [2, 4, 4, 3])
    real, _ = dcgan.discriminator(images, depth=2)
    count = len(tf.global_variables())
    fake, _ = dcgan.discriminator(images * 0.5, depth=2, reuse=True,
                                  is_training=False)
    assert len(tf.global_variables()) == count
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      batch = np.random.RandomState(0).uniform(-1, 1, [2, 4, 4, 3])
      real_out, fake_out = sess.run([real, fake], {images: batch})
    assert real_out.shape == fake_out.shape == (2, 1)
    assert np.all(np.isfinite(real_out))


@pytest.mark.parametrize('final_size, message', [
    (30, r'`final_size` \(30\) must be a power of 2'),
    (4, r'`final_size` \(4\) must be greater than 8')])
def test_generator_bad_final_size(final_size, message):
  with tf.Graph().as_default():
    with pytest.raises(UserError, match=message):
      dcgan.generator(tf.zeros([3, 2]), final_size=final_size)
    with pytest.raises(ValueError, match='rank'):
      dcgan.generator(tf.zeros([3, 2, 1]))
    assert not tf.global_variables()


@pytest.mark.parametrize('shape, message', [
    ([5, 32, 16, 3], 'does not have equal width and height: 32x16'),
    ([5, 24, 24, 3], 'is not a power of 2: 24'),
    ([5, 32, None, 3], 'needs a known height and width')])
def test_discriminator_bad_images(shape, message):
  with tf.Graph().as_default():
    with pytest.raises(UserError, match=message):
      dcgan.discriminator(tf.placeholder(tf.float32, shape))
    with pytest.raises(ValueError, match='rank'):
      dcgan.discriminator(tf.zeros([5, 32, 32]))
    assert not tf.global_variables()
