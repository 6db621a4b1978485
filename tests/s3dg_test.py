"""S3D-G: options of the video network and the shared 3-D blocks."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

import built_networks
from slimvision.nets import s3dg

# 8 frames of 64x64: Mixed_5c is [batch, 1, 2, 2, 1024].
SMALL = [1, 8, 64, 64, 3]


def _build(shape=SMALL, scope_kwargs=None, **kwargs):
  images = tf.placeholder(tf.float32, shape)
  with slim.arg_scope(s3dg.s3dg_arg_scope(**(scope_kwargs or {}))):
    logits, end_points = s3dg.s3dg(images, **kwargs)
  return images, logits, end_points


# Two clips in inference mode, 4 classes: the shape and variable test and
# the inference test read this one build (finalized: see built_networks).
_built_for_inference = built_networks.shared(
    lambda: _build([2] + SMALL[1:], num_classes=4, is_training=False))


def _variables():
  return {v.op.name: v.shape.as_list() for v in tf.global_variables()}


def test_fewer_smaller_frames():
  built = _built_for_inference()
  with built.graph.as_default():
    end_points = built.end_points
    assert built.output.shape.as_list() == [2, 4]
    assert end_points['Conv2d_1a_7x7'].shape.as_list() == [2, 4, 32, 32, 64]
    assert end_points['MaxPool_4a_3x3'].shape.as_list() == [2, 2, 4, 4, 480]
    assert end_points['Mixed_5c'].shape.as_list() == [2, 1, 2, 2, 1024]
    variables = _variables()
    # Separable from Conv2d_2c_3x3 on, gated from there on.
    assert variables['InceptionV1/Conv2d_1a_7x7/weights'] == [3, 7, 7, 3, 64]
    assert variables['InceptionV1/Mixed_4b/Branch_1/Conv2d_0b_3x3/weights'] \
        == [1, 3, 3, 96, 208]
    assert variables[
        'InceptionV1/Mixed_4b/Branch_1/Conv2d_0b_3x3/temporal/weights'] == [
            3, 1, 1, 208, 208]
    assert sum('self_gating' in n for n in variables) == 1 + 9 * 4


@pytest.mark.parametrize('num_classes', [0, None])
def test_no_classes_returns_pooled_features(num_classes):
  with tf.Graph().as_default():
    _, net, end_points = _build(num_classes=num_classes)
    assert net.shape.as_list() == [1, 1024]
    assert end_points['global_pool'] is net
    assert 'Logits' not in end_points
    assert not [n for n in _variables() if '/Logits/' in n]


def test_gating_and_temporal_convs_can_start_later_or_never():
  with tf.Graph().as_default():
    _build(num_classes=3, gating_startat=None, temporal_conv_startat=None)
    variables = _variables()
    assert not [n for n in variables if 'self_gating' in n or 'temporal' in n]
    assert variables['InceptionV1/Conv2d_2c_3x3/weights'] == [1, 3, 3, 64, 192]
  with tf.Graph().as_default():
    _build(num_classes=3, gating_startat='Mixed_4b',
           temporal_conv_startat='Mixed_5b')
    variables = _variables()
    gated = {n.split('/')[1] for n in variables if 'self_gating' in n}
    assert gated == {'Mixed_4b', 'Mixed_4c', 'Mixed_4d', 'Mixed_4e',
                     'Mixed_4f', 'Mixed_5b', 'Mixed_5c'}
    temporal = {n.split('/')[1] for n in variables if '/temporal/' in n}
    assert temporal == {'Mixed_5b', 'Mixed_5c'}


def test_non_separable_arg_scope_gives_full_3d_kernels():
  with tf.Graph().as_default():
    _build(num_classes=3, scope_kwargs={'separable_conv3d': False})
    variables = _variables()
    assert not [n for n in variables if '/temporal/' in n]
    assert variables['InceptionV1/Mixed_3b/Branch_2/Conv2d_0b_3x3/weights'] \
        == [3, 3, 3, 16, 32]


def test_final_endpoint_spatial_squeeze_and_errors():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, SMALL)
    net, end_points = s3dg.s3dg_base(images, final_endpoint='Mixed_3c')
    assert net.shape.as_list() == [1, 4, 8, 8, 480]
    assert 'MaxPool_4a_3x3' not in end_points
  with tf.Graph().as_default():
    _, logits, _ = _build(num_classes=3, spatial_squeeze=False)
    assert logits.shape.as_list() == [1, 1, 1, 3]
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, SMALL)
    with pytest.raises(ValueError, match='first_temporal_kernel_size'):
      s3dg.s3dg_base(images, first_temporal_kernel_size=4)
    with pytest.raises(ValueError, match='final endpoint'):
      s3dg.s3dg_base(images, final_endpoint='Mixed_6a')
    assert not tf.global_variables()  # Refused before building anything.


def test_inference_gives_probabilities():
  built = _built_for_inference()
  batch = np.random.RandomState(0).uniform(-1, 1, [2] + SMALL[1:])
  with built_networks.session(built) as sess:
    out, probabilities = sess.run(
        [built.output, built.end_points['Predictions']],
        {built.images: batch})
    again = sess.run(built.output, {built.images: batch})
  assert out.shape == (2, 4)
  assert np.all(np.isfinite(out))
  np.testing.assert_array_equal(out, again)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
