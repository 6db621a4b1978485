"""Inception v3 of the TF-Slim model zoo (scope `InceptionV3`).

Szegedy et al., "Rethinking the Inception Architecture for Computer Vision",
http://arxiv.org/abs/1512.00567 (figures 5-7 and table 1).
research/slim's nets/inception_v3.py interface and names: a 299x299 input
goes through the stem (`Conv2d_1a_3x3` .. `MaxPool_5a_3x3`, 35x35x192),
three 35x35 modules (`Mixed_5b` .. `Mixed_5d`), a grid reduction
(`Mixed_6a`), four 17x17 modules with factorised 7x7 convolutions
(`Mixed_6b` .. `Mixed_6e`), a second reduction (`Mixed_7a`) and two 8x8
modules with expanded filter banks (`Mixed_7b`, `Mixed_7c`, 8x8x2048); then
the auxiliary classifier on Mixed_6e (`AuxLogits`), `Logits/AvgPool_1a_8x8`,
dropout and a 1x1-conv classifier (`Logits/Conv2d_1c_1x1`).
"""

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import inception_utils as iu

inception_v3_arg_scope = iu.inception_arg_scope
trunc_normal = iu.trunc_normal  # research/slim's module-level names.
_reduced_kernel_size_for_small_input = iu.reduced_kernel_size_for_small_input

_HEAD = iu.InceptionHead(
    pool_size=[8, 8], pool_stride=None, pool_scope='AvgPool_1a_{}x{}',
    pool_end_point='AvgPool_1a', global_pool_name='GlobalPool',
    dropout_scope='Dropout_1b', pre_logits=True,
    logits_scope='Conv2d_1c_1x1', predictions_in_logits_scope=False)

# Grid reductions: stride 2 without padding.
_REDUCE = {'stride': 2, 'padding': 'VALID'}


def _pool(fn, scope, **kwargs):
  return iu.layer(fn, 3, scope, **kwargs)


def _parallel(*layers):
  """A layer that concatenates its sub-layers' outputs (figure 7)."""
  return lambda net: tf.concat(axis=3, values=[layer(net) for layer in layers])


def _module_35(depth, pool_projection, mixed_5c_names=False):
  """35x35 module (figure 5, with 5x5 and double-3x3 branches)."""
  # The published checkpoint names Mixed_5c's 5x5 branch differently.
  names = (('Conv2d_0b_1x1', 'Conv_1_0c_5x5') if mixed_5c_names else
           ('Conv2d_0a_1x1', 'Conv2d_0b_5x5'))
  return iu.mixed([
      [iu.conv(depth(64), 1, 'Conv2d_0a_1x1')],
      [iu.conv(depth(48), 1, names[0]), iu.conv(depth(64), 5, names[1])],
      [iu.conv(depth(64), 1, 'Conv2d_0a_1x1'),
       iu.conv(depth(96), 3, 'Conv2d_0b_3x3'),
       iu.conv(depth(96), 3, 'Conv2d_0c_3x3')],
      [_pool(slim.avg_pool2d, 'AvgPool_0a_3x3'),
       iu.conv(depth(pool_projection), 1, 'Conv2d_0b_1x1')],
  ])


def _module_17(depth, width):
  """17x17 module (figure 6): 7x7 convolutions factorised into 1x7, 7x1."""
  return iu.mixed([
      [iu.conv(depth(192), 1, 'Conv2d_0a_1x1')],
      [iu.conv(depth(width), 1, 'Conv2d_0a_1x1'),
       iu.conv(depth(width), [1, 7], 'Conv2d_0b_1x7'),
       iu.conv(depth(192), [7, 1], 'Conv2d_0c_7x1')],
      [iu.conv(depth(width), 1, 'Conv2d_0a_1x1'),
       iu.conv(depth(width), [7, 1], 'Conv2d_0b_7x1'),
       iu.conv(depth(width), [1, 7], 'Conv2d_0c_1x7'),
       iu.conv(depth(width), [7, 1], 'Conv2d_0d_7x1'),
       iu.conv(depth(192), [1, 7], 'Conv2d_0e_1x7')],
      [_pool(slim.avg_pool2d, 'AvgPool_0a_3x3'),
       iu.conv(depth(192), 1, 'Conv2d_0b_1x1')],
  ])


def _module_8(depth, branch_1_3x1_name):
  """8x8 module (figure 7): 1x3 and 3x1 convolutions side by side."""
  return iu.mixed([
      [iu.conv(depth(320), 1, 'Conv2d_0a_1x1')],
      [iu.conv(depth(384), 1, 'Conv2d_0a_1x1'),
       _parallel(iu.conv(depth(384), [1, 3], 'Conv2d_0b_1x3'),
                 iu.conv(depth(384), [3, 1], branch_1_3x1_name))],
      [iu.conv(depth(448), 1, 'Conv2d_0a_1x1'),
       iu.conv(depth(384), 3, 'Conv2d_0b_3x3'),
       _parallel(iu.conv(depth(384), [1, 3], 'Conv2d_0c_1x3'),
                 iu.conv(depth(384), [3, 1], 'Conv2d_0d_3x1'))],
      [_pool(slim.avg_pool2d, 'AvgPool_0a_3x3'),
       iu.conv(depth(192), 1, 'Conv2d_0b_1x1')],
  ])


def _layers(depth):
  """All layers: 299x299x3 -> 8x8x2048, as (end-point name, layer)."""
  unpadded = {'padding': 'VALID'}
  return [
      # Stem, unpadded but for Conv2d_2b_3x3.
      ('Conv2d_1a_3x3', iu.conv(depth(32), 3, stride=2, **unpadded)),
      ('Conv2d_2a_3x3', iu.conv(depth(32), 3, **unpadded)),
      ('Conv2d_2b_3x3', iu.conv(depth(64), 3)),
      ('MaxPool_3a_3x3', _pool(slim.max_pool2d, None, **_REDUCE)),
      ('Conv2d_3b_1x1', iu.conv(depth(80), 1, **unpadded)),
      ('Conv2d_4a_3x3', iu.conv(depth(192), 3, **unpadded)),
      ('MaxPool_5a_3x3', _pool(slim.max_pool2d, None, **_REDUCE)),
      ('Mixed_5b', _module_35(depth, 32)),
      ('Mixed_5c', _module_35(depth, 64, mixed_5c_names=True)),
      ('Mixed_5d', _module_35(depth, 64)),
      # The published checkpoint names the 3x3 convolutions `1a_1x1` here.
      ('Mixed_6a', iu.mixed([
          [iu.conv(depth(384), 3, 'Conv2d_1a_1x1', **_REDUCE)],
          [iu.conv(depth(64), 1, 'Conv2d_0a_1x1'),
           iu.conv(depth(96), 3, 'Conv2d_0b_3x3'),
           iu.conv(depth(96), 3, 'Conv2d_1a_1x1', **_REDUCE)],
          [_pool(slim.max_pool2d, 'MaxPool_1a_3x3', **_REDUCE)],
      ])),
      ('Mixed_6b', _module_17(depth, 128)),
      ('Mixed_6c', _module_17(depth, 160)),
      ('Mixed_6d', _module_17(depth, 160)),
      ('Mixed_6e', _module_17(depth, 192)),
      ('Mixed_7a', iu.mixed([
          [iu.conv(depth(192), 1, 'Conv2d_0a_1x1'),
           iu.conv(depth(320), 3, 'Conv2d_1a_3x3', **_REDUCE)],
          [iu.conv(depth(192), 1, 'Conv2d_0a_1x1'),
           iu.conv(depth(192), [1, 7], 'Conv2d_0b_1x7'),
           iu.conv(depth(192), [7, 1], 'Conv2d_0c_7x1'),
           iu.conv(depth(192), 3, 'Conv2d_1a_3x3', **_REDUCE)],
          [_pool(slim.max_pool2d, 'MaxPool_1a_3x3', **_REDUCE)],
      ])),
      ('Mixed_7b', _module_8(depth, 'Conv2d_0b_3x1')),
      ('Mixed_7c', _module_8(depth, 'Conv2d_0c_3x1')),
  ]


def _depth_fn(min_depth, depth_multiplier):
  if depth_multiplier <= 0:
    raise ValueError('depth_multiplier is not greater than zero.')
  return lambda d: max(int(d * depth_multiplier), min_depth)


def inception_v3_base(inputs, final_endpoint='Mixed_7c', min_depth=16,
                      depth_multiplier=1.0, scope=None):
  """Inception v3 up to `final_endpoint`.

  Args:
    inputs: float Tensor [batch, height, width, channels]; 299x299 gives
      Mixed_7c [batch, 8, 8, 2048] (inputs from 75x75 up work).
    final_endpoint: one of 'Conv2d_1a_3x3', 'Conv2d_2a_3x3',
      'Conv2d_2b_3x3', 'MaxPool_3a_3x3', 'Conv2d_3b_1x1', 'Conv2d_4a_3x3',
      'MaxPool_5a_3x3', 'Mixed_5b' .. 'Mixed_5d', 'Mixed_6a' .. 'Mixed_6e',
      'Mixed_7a' .. 'Mixed_7c'.
    min_depth: minimum width of every layer (binds for depth_multiplier < 1).
    depth_multiplier: float > 0 scaling every layer's width:
      max(int(width * depth_multiplier), min_depth).
    scope: variable scope (default 'InceptionV3').

  Returns:
    (net, end_points): the final_endpoint output and name -> Tensor.

  Raises:
    ValueError: for depth_multiplier <= 0 or an unknown final_endpoint.
  """
  layers = _layers(_depth_fn(min_depth, depth_multiplier))
  with tf.variable_scope(scope, 'InceptionV3', [inputs]), \
      slim.arg_scope([slim.conv2d, slim.max_pool2d, slim.avg_pool2d],
                     stride=1, padding='SAME'):
    return iu.build_layers(inputs, layers, final_endpoint)


def _aux_logits(net, depth, num_classes, spatial_squeeze):
  """Auxiliary classifier on Mixed_6e [batch, 17, 17, 768] -> [batch,
  num_classes] (scope `AuxLogits`)."""
  with slim.arg_scope([slim.conv2d, slim.max_pool2d, slim.avg_pool2d],
                      stride=1, padding='SAME'), \
      tf.variable_scope('AuxLogits'):
    net = slim.avg_pool2d(net, [5, 5], stride=3, padding='VALID',
                          scope='AvgPool_1a_5x5')
    net = slim.conv2d(net, depth(128), [1, 1], scope='Conv2d_1b_1x1')
    # A conv over the whole remaining map.
    kernel = iu.reduced_kernel_size_for_small_input(net, [5, 5])
    net = slim.conv2d(net, depth(768), kernel,
                      weights_initializer=iu.trunc_normal(0.01),
                      padding='VALID', scope='Conv2d_2a_{}x{}'.format(*kernel))
    net = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                      normalizer_fn=None,
                      weights_initializer=iu.trunc_normal(0.001),
                      scope='Conv2d_2b_1x1')
    if spatial_squeeze:
      net = tf.squeeze(net, [1, 2], name='SpatialSqueeze')
  return net


def inception_v3(inputs, num_classes=1000, is_training=True,
                 dropout_keep_prob=0.8, min_depth=16, depth_multiplier=1.0,
                 prediction_fn=slim.softmax, spatial_squeeze=True, reuse=None,
                 create_aux_logits=True, scope='InceptionV3',
                 global_pool=False):
  """Inception v3 classifier.

  Args:
    inputs: float Tensor [batch, height, width, channels], 299x299 for the
      published checkpoint.
    num_classes: logits width; 0 or None returns the pooled features
      [batch, 1, 1, 2048] (before dropout) and creates no logits nor
      auxiliary-logits variables.
    is_training: batch norm and dropout mode.
    dropout_keep_prob: keep probability of the dropout before the logits.
    min_depth, depth_multiplier: as in inception_v3_base.
    prediction_fn: logits -> `Predictions` end point.
    spatial_squeeze: logits (and auxiliary logits) [batch, num_classes]
      rather than [batch, 1, 1, num_classes].
    reuse: whether to reuse the variables of `scope`.
    create_aux_logits: build the auxiliary classifier (end point
      `AuxLogits`).
    scope: variable scope.
    global_pool: average the whole last map (end point `global_pool`), so
      larger inputs still give 1x1; otherwise the 8x8 pool
      `AvgPool_1a_8x8` (clipped to smaller maps, end point `AvgPool_1a`).

  Returns:
    (logits, end_points), with end points `AuxLogits`, `AvgPool_1a` (or
    `global_pool`), `PreLogits`, `Logits` and `Predictions` besides the
    base's.

  Raises:
    ValueError: for depth_multiplier <= 0.
  """
  depth = _depth_fn(min_depth, depth_multiplier)
  with tf.variable_scope(scope, 'InceptionV3', [inputs], reuse=reuse) as sc, \
      slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
    net, end_points = inception_v3_base(
        inputs, scope=sc, min_depth=min_depth,
        depth_multiplier=depth_multiplier)
    if create_aux_logits and num_classes:
      end_points['AuxLogits'] = _aux_logits(
          end_points['Mixed_6e'], depth, num_classes, spatial_squeeze)
    return iu.inception_logits(net, end_points, _HEAD, num_classes,
                               global_pool, dropout_keep_prob, spatial_squeeze,
                               prediction_fn)


inception_v3.default_image_size = 299
