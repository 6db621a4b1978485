"""nets/i3d_utils.py: the identity-at-start temporal initialiser, and the
research/slim names of the video modules."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import i3d
from slimvision.nets import i3d_utils
from slimvision.nets import s3dg


def test_center_initializer_is_the_identity_at_the_central_frame():
  with tf.Graph().as_default(), tf.Session() as sess:
    weights = sess.run(i3d_utils.center_initializer()([3, 1, 1, 4, 4]))
  expected = np.zeros([3, 1, 1, 4, 4], np.float32)
  expected[1, 0, 0] = np.eye(4)
  np.testing.assert_array_equal(weights, expected)


@pytest.mark.parametrize('shape, dtype', [
    ([2, 1, 1, 4, 4], tf.float32),   # Even temporal size: no centre.
    ([3, 3, 3, 4, 4], tf.float32),   # Not pointwise in space.
    ([3, 1, 1, 4, 8], tf.float32),   # Channels change.
    ([3, 1, 4, 4], tf.float32),      # Not 5-D.
    ([3, 1, 1, 4, 4], tf.int32)])
def test_center_initializer_refuses_other_kernels(shape, dtype):
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='center_initializer'):
      i3d_utils.center_initializer()(shape, dtype)


def test_separable_temporal_conv_starts_as_the_spatial_conv_alone():
  with tf.Graph().as_default():
    video = tf.constant(np.random.RandomState(0).uniform(
        -1, 1, [1, 4, 5, 5, 2]).astype(np.float32))
    net = i3d_utils.conv3d_spatiotemporal(video, 2, [3, 3, 3],
                                          separable=True, scope='Conv')
    spatial = tf.get_default_graph().get_tensor_by_name(
        'Conv/Conv3D:0')
    names = sorted(v.op.name for v in tf.global_variables())
    assert names == ['Conv/biases', 'Conv/temporal/biases',
                     'Conv/temporal/weights', 'Conv/weights']
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      out, spatial_out = sess.run([net, spatial])
    # Identity weights, zero biases, no activation by default.
    np.testing.assert_allclose(out, spatial_out, rtol=1e-6, atol=1e-6)


def test_research_slim_module_names():
  assert s3dg.conv3d_spatiotemporal is i3d_utils.conv3d_spatiotemporal
  assert s3dg.inception_block_v1_3d is i3d_utils.inception_block_v1_3d
  assert s3dg.self_gating is i3d_utils.self_gating
  assert i3d.conv3d_spatiotemporal is i3d_utils.conv3d_spatiotemporal
  assert i3d.trunc_normal is s3dg.trunc_normal
  with tf.Graph().as_default():
    with slim.arg_scope([slim.conv3d],
                        weights_initializer=s3dg.trunc_normal(0.5)):
      slim.conv3d(tf.zeros([1, 1, 1, 1, 3]), 2000, [1, 1, 1], scope='c')
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      weights = sess.run(tf.global_variables('c/weights')[0])
  # Truncated at two standard deviations, mean 0.
  assert np.abs(weights).max() <= 1.0 and abs(weights.mean()) < 0.05


# research/slim's parameters, in order (code passes them by position), and
# the defaults that differ from ours before.
@pytest.mark.parametrize('fn, parameters', [
    (i3d.i3d, ['inputs', 'num_classes', 'dropout_keep_prob', 'is_training',
               'prediction_fn', 'spatial_squeeze', 'reuse', 'scope']),
    (i3d_utils.self_gating, ['input_tensor', 'scope', 'data_format']),
    (i3d_utils.reduced_kernel_size_3d, ['input_tensor', 'kernel_size']),
])
def test_research_slim_parameters(fn, parameters):
  import inspect  # pylint: disable=g-import-not-at-top
  assert list(inspect.signature(fn).parameters)[:len(parameters)] == (
      parameters)


def test_inception_block_default_scope_adds_no_level():
  import inspect  # pylint: disable=g-import-not-at-top
  signature = inspect.signature(i3d_utils.inception_block_v1_3d)
  assert signature.parameters['scope'].default == ''
  with tf.Graph().as_default(), slim.arg_scope(
      [slim.conv3d, slim.max_pool3d], stride=1, padding='SAME'):
    i3d_utils.inception_block_v1_3d(tf.zeros([1, 2, 4, 4, 3]), 1, 1, 1, 1, 1,
                                    1)
    names = [v.op.name for v in tf.global_variables()]
  assert 'Branch_0/Conv2d_0a_1x1/weights' in names
