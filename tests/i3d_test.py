"""I3D: options of the inflated Inception v1 video network."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import i3d

# 8 frames of 64x64: Mixed_5c is [batch, 1, 2, 2, 1024].
SMALL = [1, 8, 64, 64, 3]


def _build(shape=SMALL, **kwargs):
  images = tf.placeholder(tf.float32, shape)
  with slim.arg_scope(i3d.i3d_arg_scope()):
    logits, end_points = i3d.i3d(images, **kwargs)
  return images, logits, end_points


def _variables():
  return {v.op.name: v.shape.as_list() for v in tf.global_variables()}


def test_fewer_smaller_frames_and_full_3d_kernels():
  with tf.Graph().as_default():
    _, logits, end_points = _build(num_classes=6)
    assert logits.shape.as_list() == [1, 6]
    assert end_points['Conv2d_1a_7x7'].shape.as_list() == [1, 4, 32, 32, 64]
    assert end_points['Mixed_5c'].shape.as_list() == [1, 1, 2, 2, 1024]
    variables = _variables()
    assert variables['InceptionV1/Conv2d_1a_7x7/weights'] == [7, 7, 7, 3, 64]
    assert variables['InceptionV1/Conv2d_2c_3x3/weights'] == [
        3, 3, 3, 64, 192]
    assert not [n for n in variables if 'self_gating' in n or 'temporal' in n]
    assert not [n for n in variables if 'gamma' in n]


@pytest.mark.parametrize('num_classes', [0, None])
def test_no_classes_returns_pooled_features(num_classes):
  with tf.Graph().as_default():
    _, net, end_points = _build(num_classes=num_classes)
    assert net.shape.as_list() == [1, 1024]
    assert end_points['global_pool'] is net
    assert 'Predictions' not in end_points
    assert not [n for n in _variables() if '/Logits/' in n]


def test_final_endpoint_and_spatial_squeeze():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, SMALL)
    net, end_points = i3d.i3d_base(images, final_endpoint='MaxPool_4a_3x3')
    assert net.shape.as_list() == [1, 2, 4, 4, 480]
    assert 'Mixed_4b' not in end_points
  with tf.Graph().as_default():
    _, logits, _ = _build(num_classes=3, spatial_squeeze=False)
    assert logits.shape.as_list() == [1, 1, 1, 3]
  with tf.Graph().as_default():
    # The head of an earlier end point pools what is there.
    _, logits, end_points = _build(num_classes=3, final_endpoint='Mixed_4f')
    assert logits.shape.as_list() == [1, 3]
    assert 'Mixed_5b' not in end_points


def test_weight_decay_and_inference():
  with tf.Graph().as_default():
    tf.set_random_seed(3)
    images = tf.placeholder(tf.float32, [2, 8, 32, 32, 3])
    with slim.arg_scope(i3d.i3d_arg_scope(weight_decay=0.01)):
      logits, end_points = i3d.i3d(images, num_classes=4, is_training=False)
    weights = [v for v in tf.trainable_variables()
               if v.op.name.endswith('/weights')]
    # 3 stem convs, 9 blocks of 6 convs, the logits conv.
    assert len(tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)) == len(
        weights) == 3 + 9 * 6 + 1
    batch = np.random.RandomState(0).uniform(-1, 1, [2, 8, 32, 32, 3])
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      out, probabilities = sess.run([logits, end_points['Predictions']],
                                    {images: batch})
      again = sess.run(logits, {images: batch})
  assert out.shape == (2, 4)
  assert np.all(np.isfinite(out))
  np.testing.assert_array_equal(out, again)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
