"""S3D-G: separable 3-D Inception v1 with feature gating (scope `InceptionV1`).

Xie et al., "Rethinking Spatiotemporal Feature Learning: Speed-Accuracy
Trade-offs in Video Classification", https://arxiv.org/abs/1712.04851.
Input [batch, frames, 224, 224, 3]; for 16 frames the features go
Conv2d_1a_7x7 [b, 8, 112, 112, 64] .. Mixed_5c [b, 2, 7, 7, 1024]. From
`temporal_conv_startat` on, the [3, 3] convolutions are [3, 3, 3], factored
into [1, 3, 3] + [3, 1, 1] under the S3D-G arg_scope; from `gating_startat`
on, each branch output is self-gated. `s3dg_base` with other settings also
builds I3D (see nets/i3d.py).
"""

import functools

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import i3d_utils
from slimvision.nets import inception_utils

# research/slim's s3dg names for the shared pieces.
trunc_normal = inception_utils.trunc_normal
conv3d_spatiotemporal = i3d_utils.conv3d_spatiotemporal
inception_block_v1_3d = i3d_utils.inception_block_v1_3d
self_gating = i3d_utils.self_gating

# End point -> (Branch_0 1x1; Branch_1 1x1, 3x3; Branch_2 1x1, 3x3;
# Branch_3 1x1) output depths of the Inception v1 blocks.
_BLOCK_DEPTHS = {
    'Mixed_3b': (64, 96, 128, 16, 32, 32),
    'Mixed_3c': (128, 128, 192, 32, 96, 64),
    'Mixed_4b': (192, 96, 208, 16, 48, 64),
    'Mixed_4c': (160, 112, 224, 24, 64, 64),
    'Mixed_4d': (128, 128, 256, 24, 64, 64),
    'Mixed_4e': (112, 144, 288, 32, 64, 64),
    'Mixed_4f': (256, 160, 320, 32, 128, 128),
    'Mixed_5b': (256, 160, 320, 32, 128, 128),
    'Mixed_5c': (384, 192, 384, 48, 128, 128),
}

# The layers in order; 'pool' entries are (kernel, stride) [t, h, w].
_LAYERS = [
    ('Conv2d_1a_7x7', 'conv'),
    ('MaxPool_2a_3x3', ([1, 3, 3], [1, 2, 2])),
    ('Conv2d_2b_1x1', 'conv'),
    ('Conv2d_2c_3x3', 'conv'),
    ('MaxPool_3a_3x3', ([1, 3, 3], [1, 2, 2])),
    ('Mixed_3b', 'block'),
    ('Mixed_3c', 'block'),
    ('MaxPool_4a_3x3', ([3, 3, 3], [2, 2, 2])),
    ('Mixed_4b', 'block'),
    ('Mixed_4c', 'block'),
    ('Mixed_4d', 'block'),
    ('Mixed_4e', 'block'),
    ('Mixed_4f', 'block'),
    ('MaxPool_5a_2x2', ([2, 2, 2], [2, 2, 2])),
    ('Mixed_5b', 'block'),
    ('Mixed_5c', 'block'),
]
_END_POINTS = [name for name, _ in _LAYERS]


def _check_base_arguments(*, first_temporal_kernel_size,
                          temporal_conv_startat, gating_startat,
                          depth_multiplier, data_format):
  """Raises ValueError for a setting of s3dg_base it cannot build (the
  final end point is checked as the layers are built)."""
  if data_format not in ('NDHWC', 'NCDHW'):
    raise ValueError('data_format must be NDHWC or NCDHW, got %r' %
                     data_format)
  if first_temporal_kernel_size not in (1, 3, 5, 7):
    raise ValueError('first_temporal_kernel_size must be 1, 3, 5 or 7.')
  if depth_multiplier <= 0:
    raise ValueError('depth_multiplier is not greater than zero.')
  for name in (temporal_conv_startat, gating_startat):
    if name is not None and name not in _END_POINTS:
      raise ValueError('Unknown start-at end point %s' % name)


def _base_layers(*, first_temporal_kernel_size, temporal_conv_startat,
                 gating_startat, min_depth, depth_multiplier, data_format):
  """s3dg_base's (end point, layer) pairs in order (see its arguments)."""

  def depth(d):
    return max(int(d * depth_multiplier), min_depth)

  def gating_fn(net, scope):
    return i3d_utils.self_gating(net, scope, data_format=data_format)

  layers = []
  temporal_size, self_gating_fn = 1, None
  for name, kind in _LAYERS:
    if name == temporal_conv_startat:
      temporal_size = 3
    if name == gating_startat:
      self_gating_fn = gating_fn
    if name == 'Conv2d_1a_7x7':
      layer = functools.partial(
          conv3d_spatiotemporal, num_outputs=depth(64),
          kernel_size=[first_temporal_kernel_size, 7, 7], stride=2,
          separable=False)
    elif name == 'Conv2d_2b_1x1':
      layer = functools.partial(slim.conv3d, num_outputs=depth(64),
                                kernel_size=[1, 1, 1])
    elif name == 'Conv2d_2c_3x3':
      layer = _gated(functools.partial(
          conv3d_spatiotemporal, num_outputs=depth(192),
          kernel_size=[temporal_size, 3, 3]), self_gating_fn)
    elif kind == 'block':
      layer = _block([depth(d) for d in _BLOCK_DEPTHS[name]],
                     temporal_kernel_size=temporal_size,
                     self_gating_fn=self_gating_fn, data_format=data_format)
    else:
      kernel_size, stride = kind
      layer = functools.partial(slim.max_pool3d, kernel_size=kernel_size,
                                stride=stride)
    layers.append((name, layer))
  return layers


def _block(depths, **kwargs):
  """An inception_block_v1_3d layer with the branches' `depths`."""
  return lambda net, scope: i3d_utils.inception_block_v1_3d(
      net, *depths, scope=scope, **kwargs)


def _gated(layer, self_gating_fn):
  """`layer`, then `self_gating_fn` under the same scope (if not None)."""
  if self_gating_fn is None:
    return layer

  def gated(net, scope):
    return self_gating_fn(layer(net, scope=scope), scope=scope)
  return gated


def s3dg_base(inputs, first_temporal_kernel_size=3,
              temporal_conv_startat='Conv2d_2c_3x3',
              gating_startat='Conv2d_2c_3x3', final_endpoint='Mixed_5c',
              min_depth=16, depth_multiplier=1.0, data_format='NDHWC',
              scope='InceptionV1'):
  """The 3-D Inception v1 trunk of S3D-G (and, with other settings, I3D).

  Args:
    inputs: 5-D float Tensor [batch, frames, height, width, 3] ('NDHWC') or
      [batch, 3, frames, height, width] ('NCDHW').
    first_temporal_kernel_size: t of the first [t, 7, 7] convolution (stride
      2 in time and space): 1, 3, 5 or 7.
    temporal_conv_startat: first end point whose 3x3 convolutions are
      3x3x3 (before it they are 1x3x3); None keeps all of them 1x3x3.
    gating_startat: first end point whose outputs are self-gated; None for
      no gating.
    final_endpoint: last end point to build (see `_END_POINTS`).
    min_depth: lower bound of the layer depths under `depth_multiplier`.
    depth_multiplier: scales every layer depth (> 0).
    data_format: 'NDHWC' or 'NCDHW'.
    scope: variable scope.

  Returns:
    (net, end_points): the output of `final_endpoint` and every end point
    built so far.

  Raises:
    ValueError: for a bad `first_temporal_kernel_size`, `depth_multiplier`,
      `data_format`, a start-at name that is not an end point, or an unknown
      `final_endpoint`.
  """
  options = dict(first_temporal_kernel_size=first_temporal_kernel_size,
                 temporal_conv_startat=temporal_conv_startat,
                 gating_startat=gating_startat,
                 depth_multiplier=depth_multiplier, data_format=data_format)
  _check_base_arguments(**options)
  layers = _base_layers(min_depth=min_depth, **options)
  with tf.variable_scope(scope, 'InceptionV1', [inputs]):
    with slim.arg_scope(
        [slim.conv3d],
        weights_initializer=trunc_normal(0.01)):
      with slim.arg_scope(
          [slim.conv3d, slim.max_pool3d, conv3d_spatiotemporal],
          stride=1, data_format=data_format, padding='SAME'):
        return inception_utils.build_layers(inputs, layers, final_endpoint)


def s3dg(inputs, num_classes=1000, first_temporal_kernel_size=3,
         temporal_conv_startat='Conv2d_2c_3x3',
         gating_startat='Conv2d_2c_3x3', final_endpoint='Mixed_5c',
         min_depth=16, depth_multiplier=1.0, dropout_keep_prob=0.8,
         is_training=True, prediction_fn=slim.softmax, spatial_squeeze=True,
         reuse=None, data_format='NDHWC', scope='InceptionV1'):
  """S3D-G for video classification.

  Args:
    inputs: 5-D float Tensor [batch, frames, 224, 224, 3] (fewer or smaller
      frames work; at least 8 frames of 32x32 for the final_endpoint
      Mixed_5c).
    num_classes: logits width; 0 or None returns the time-averaged pooled
      features [batch, 1024] (end point `global_pool`).
    first_temporal_kernel_size, temporal_conv_startat, gating_startat,
      final_endpoint, min_depth, depth_multiplier, data_format: see
      `s3dg_base`.
    dropout_keep_prob: keep probability of the dropout before the logits.
    is_training: whether batch norm and dropout run in training mode.
    prediction_fn: maps logits to the `Predictions` end point.
    spatial_squeeze: logits [batch, num_classes] if True, else
      [batch, 1, 1, num_classes].
    reuse: whether to reuse the variables of `scope`.
    scope: variable scope.

  Returns:
    (logits, end_points dict name -> Tensor).
  """
  with tf.variable_scope(scope, 'InceptionV1', [inputs],
                         reuse=reuse) as scope:
    with slim.arg_scope([slim.batch_norm, slim.dropout],
                        is_training=is_training):
      net, end_points = s3dg_base(
          inputs, first_temporal_kernel_size=first_temporal_kernel_size,
          temporal_conv_startat=temporal_conv_startat,
          gating_startat=gating_startat, final_endpoint=final_endpoint,
          min_depth=min_depth, depth_multiplier=depth_multiplier,
          data_format=data_format, scope=scope)
      return i3d_utils.inception_v1_3d_logits(
          net, end_points, num_classes, dropout_keep_prob, spatial_squeeze,
          prediction_fn, data_format)


s3dg.default_image_size = 224


def s3dg_arg_scope(weight_decay=1e-7, batch_norm_decay=0.999,
                   batch_norm_epsilon=0.001, use_renorm=False,
                   separable_conv3d=True):
  """S3D-G arg_scope: see `i3d_utils.video_arg_scope` (separable convs)."""
  return i3d_utils.video_arg_scope(
      weight_decay=weight_decay, batch_norm_decay=batch_norm_decay,
      batch_norm_epsilon=batch_norm_epsilon, use_renorm=use_renorm,
      separable_conv3d=separable_conv3d)
