"""Inception v2 (BN-Inception) of the TF-Slim model zoo (scope `InceptionV2`).

Ioffe and Szegedy, "Batch Normalization: Accelerating Deep Network Training
by Reducing Internal Covariate Shift", http://arxiv.org/abs/1502.03167
(figure 5). research/slim's nets/inception_v2.py interface and names: a
224x224 input goes through the root block (a 7x7 depthwise-separable
`Conv2d_1a_7x7` .. `MaxPool_3a_3x3`, 28x28x192), Inception modules
`Mixed_3b` .. `Mixed_5c` (two of them, `Mixed_4a` and `Mixed_5a`, halve the
map), 7x7x1024, then `Logits/AvgPool_1a_7x7`, dropout and a 1x1-conv
classifier (`Logits/Conv2d_1c_1x1`).
"""

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import inception_utils as iu

inception_v2_arg_scope = iu.inception_arg_scope
trunc_normal = iu.trunc_normal  # research/slim's module-level names.
_reduced_kernel_size_for_small_input = iu.reduced_kernel_size_for_small_input

_HEAD = iu.InceptionHead(
    pool_size=[7, 7], pool_stride=None, pool_scope='AvgPool_1a_{}x{}',
    pool_end_point='AvgPool_1a', global_pool_name='global_pool',
    dropout_scope='Dropout_1b', pre_logits=True,
    logits_scope='Conv2d_1c_1x1', predictions_in_logits_scope=False)

# Widths of the modules that keep the map size: 1x1 | 3x3 reduce, 3x3 |
# double-3x3 reduce, 3x3, 3x3 | pool projection.
_MODULES = {
    'Mixed_3b': (64, 64, 64, 64, 96, 96, 32),
    'Mixed_3c': (64, 64, 96, 64, 96, 96, 64),
    'Mixed_4b': (224, 64, 96, 96, 128, 128, 128),
    'Mixed_4c': (192, 96, 128, 96, 128, 128, 128),
    'Mixed_4d': (160, 128, 160, 128, 160, 160, 96),
    'Mixed_4e': (96, 128, 192, 160, 192, 192, 96),
    'Mixed_5b': (352, 192, 320, 160, 224, 224, 128),
    'Mixed_5c': (352, 192, 320, 192, 224, 224, 128),
}
# Widths of the stride-2 modules: 3x3 reduce, 3x3 | double-3x3 reduce, 3x3,
# 3x3 (the third branch is a max pool).
_REDUCTIONS = {
    'Mixed_4a': (128, 160, 64, 96, 96),
    'Mixed_5a': (128, 192, 192, 256, 256),
}
_ORDER = ['Mixed_3b', 'Mixed_3c', 'Mixed_4a', 'Mixed_4b', 'Mixed_4c',
          'Mixed_4d', 'Mixed_4e', 'Mixed_5a', 'Mixed_5b', 'Mixed_5c']


def _reduce(depth):
  """A 1x1 bottleneck with the checkpoint's initialisation."""
  return iu.conv(depth, 1, 'Conv2d_0a_1x1',
                 weights_initializer=iu.trunc_normal(0.09))


def _module(name, depth, concat_axis):
  """Inception module `name` with the widths mapped through depth()."""
  if name in _REDUCTIONS:
    d0a, d0b, d1a, d1b, d1c = map(depth, _REDUCTIONS[name])
    return iu.mixed([
        [_reduce(d0a), iu.conv(d0b, 3, 'Conv2d_1a_3x3', stride=2)],
        [_reduce(d1a), iu.conv(d1b, 3, 'Conv2d_0b_3x3'),
         iu.conv(d1c, 3, 'Conv2d_1a_3x3', stride=2)],
        [iu.layer(slim.max_pool2d, 3, 'MaxPool_1a_3x3', stride=2)],
    ], concat_axis)
  d0, d1a, d1b, d2a, d2b, d2c, d3 = map(depth, _MODULES[name])
  # The last module max-pools in its fourth branch, the others average.
  if name == 'Mixed_5c':
    pool = iu.layer(slim.max_pool2d, 3, 'MaxPool_0a_3x3')
  else:
    pool = iu.layer(slim.avg_pool2d, 3, 'AvgPool_0a_3x3')
  return iu.mixed([
      [iu.conv(d0, 1, 'Conv2d_0a_1x1')],
      [_reduce(d1a), iu.conv(d1b, 3, 'Conv2d_0b_3x3')],
      [_reduce(d2a), iu.conv(d2b, 3, 'Conv2d_0b_3x3'),
       iu.conv(d2c, 3, 'Conv2d_0c_3x3')],
      [pool, iu.conv(d3, 1, 'Conv2d_0b_1x1',
                     weights_initializer=iu.trunc_normal(0.1))],
  ], concat_axis)


def _root(depth, use_separable_conv):
  """The layers before Mixed_3b: 224x224x3 -> 28x28x192."""
  if use_separable_conv:
    # The depthwise part makes depthwise_multiplier maps per input channel;
    # it must not exceed the output width, or the layer is overparameterised.
    conv1 = iu.layer(slim.separable_conv2d, 7, num_outputs=depth(64),
                    depth_multiplier=min(int(depth(64) / 3), 8), stride=2,
                    weights_initializer=iu.trunc_normal(1.0))
  else:
    conv1 = iu.conv(depth(64), 7, stride=2,
                    weights_initializer=iu.trunc_normal(1.0))
  return [
      ('Conv2d_1a_7x7', conv1),
      ('MaxPool_2a_3x3', iu.layer(slim.max_pool2d, 3, stride=2)),
      ('Conv2d_2b_1x1', iu.conv(depth(64), 1,
                                weights_initializer=iu.trunc_normal(0.1))),
      ('Conv2d_2c_3x3', iu.conv(depth(192), 3)),
      ('MaxPool_3a_3x3', iu.layer(slim.max_pool2d, 3, stride=2)),
  ]


def inception_v2_base(inputs, final_endpoint='Mixed_5c', min_depth=16,
                      depth_multiplier=1.0, use_separable_conv=True,
                      data_format='NHWC', include_root_block=True,
                      scope=None):
  """Inception v2 up to `final_endpoint`.

  Args:
    inputs: float Tensor [batch, height, width, channels] (or [batch,
      channels, height, width] for NCHW); 224x224 gives Mixed_5c
      [batch, 7, 7, 1024].
    final_endpoint: one of 'Conv2d_1a_7x7', 'MaxPool_2a_3x3',
      'Conv2d_2b_1x1', 'Conv2d_2c_3x3', 'MaxPool_3a_3x3' (root block),
      'Mixed_3b', 'Mixed_3c', 'Mixed_4a' .. 'Mixed_4e', 'Mixed_5a' ..
      'Mixed_5c'.
    min_depth: minimum width of every layer (binds for depth_multiplier < 1).
    depth_multiplier: float > 0 scaling every layer's width:
      max(int(width * depth_multiplier), min_depth).
    use_separable_conv: a depthwise-separable Conv2d_1a_7x7 (the checkpoint);
      False uses a plain 7x7 conv.
    data_format: 'NHWC' or 'NCHW' (NCHW needs use_separable_conv=False).
    include_root_block: build the root block; False starts at Mixed_3b on
      `inputs`, and the root end points are not available.
    scope: variable scope (default 'InceptionV2').

  Returns:
    (net, end_points): the final_endpoint output and name -> Tensor.

  Raises:
    ValueError: for depth_multiplier <= 0, an unknown data_format or
      final_endpoint, or NCHW with use_separable_conv.
  """
  if depth_multiplier <= 0:
    raise ValueError('depth_multiplier is not greater than zero.')
  if data_format not in ('NHWC', 'NCHW'):
    raise ValueError('data_format must be either NHWC or NCHW.')
  if data_format == 'NCHW' and use_separable_conv:
    raise ValueError('separable convolution only supports NHWC layout. NCHW '
                     'data format can only be used when use_separable_conv '
                     'is False.')
  depth = lambda d: max(int(d * depth_multiplier), min_depth)
  concat_axis = 3 if data_format == 'NHWC' else 1
  layers = _root(depth, use_separable_conv) if include_root_block else []
  layers += [(name, _module(name, depth, concat_axis)) for name in _ORDER]
  with tf.variable_scope(scope, 'InceptionV2', [inputs]), \
      slim.arg_scope([slim.conv2d, slim.max_pool2d, slim.avg_pool2d,
                      slim.separable_conv2d], stride=1, padding='SAME'), \
      slim.arg_scope([slim.conv2d, slim.max_pool2d, slim.avg_pool2d,
                      slim.batch_norm], data_format=data_format):
    return iu.build_layers(inputs, layers, final_endpoint)


def inception_v2(inputs, num_classes=1000, is_training=True,
                 dropout_keep_prob=0.8, min_depth=16, depth_multiplier=1.0,
                 prediction_fn=slim.softmax, spatial_squeeze=True, reuse=None,
                 scope='InceptionV2', global_pool=False):
  """Inception v2 classifier.

  Args:
    inputs: float Tensor [batch, height, width, channels], 224x224 for the
      published checkpoint.
    num_classes: logits width; 0 or None returns the pooled features
      [batch, 1, 1, 1024] (before dropout) and creates no logits variables.
    is_training: batch norm and dropout mode.
    dropout_keep_prob: keep probability of the dropout before the logits.
    min_depth, depth_multiplier: as in inception_v2_base.
    prediction_fn: logits -> `Predictions` end point.
    spatial_squeeze: logits [batch, num_classes] rather than
      [batch, 1, 1, num_classes].
    reuse: whether to reuse the variables of `scope`.
    scope: variable scope.
    global_pool: average the whole last map (end point `global_pool`), so
      larger inputs still give 1x1; otherwise the 7x7 pool
      `AvgPool_1a_7x7` (clipped to smaller maps, end point `AvgPool_1a`).

  Returns:
    (logits, end_points), with end points `AvgPool_1a` (or `global_pool`),
    `PreLogits`, `Logits` and `Predictions` besides the base's.

  Raises:
    ValueError: for depth_multiplier <= 0.
  """
  if depth_multiplier <= 0:
    raise ValueError('depth_multiplier is not greater than zero.')
  with tf.variable_scope(scope, 'InceptionV2', [inputs], reuse=reuse) as sc, \
      slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
    net, end_points = inception_v2_base(
        inputs, scope=sc, min_depth=min_depth,
        depth_multiplier=depth_multiplier)
    return iu.inception_logits(net, end_points, _HEAD, num_classes,
                               global_pool, dropout_keep_prob, spatial_squeeze,
                               prediction_fn)


inception_v2.default_image_size = 224
