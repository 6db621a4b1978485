"""Inception v1 (GoogLeNet) of the TF-Slim model zoo (scope `InceptionV1`).

Szegedy et al., "Going deeper with convolutions",
http://arxiv.org/abs/1409.4842 (table 1), with batch norm. research/slim's
nets/inception_v1.py interface and names: a 224x224 input goes through the
root block (`Conv2d_1a_7x7` .. `MaxPool_3a_3x3`, 28x28x192), nine Inception
modules (`Mixed_3b` .. `Mixed_5c`, 7x7x1024), then `Logits/AvgPool_0a_7x7`,
dropout and a 1x1-conv classifier (`Logits/Conv2d_0c_1x1`).
"""

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import inception_utils as iu

inception_v1_arg_scope = iu.inception_arg_scope
trunc_normal = iu.trunc_normal  # research/slim's module-level name.

_HEAD = iu.InceptionHead(
    pool_size=[7, 7], pool_stride=1, pool_scope='AvgPool_0a_7x7',
    pool_end_point='AvgPool_0a_7x7', global_pool_name='global_pool',
    dropout_scope='Dropout_0b', pre_logits=False,
    logits_scope='Conv2d_0c_1x1', predictions_in_logits_scope=True)


def _module(d0, d1a, d1b, d2a, d2b, d3, scope_2b='Conv2d_0b_3x3'):
  """An Inception module with the paper's widths: 1x1 | 3x3 reduce, 3x3 |
  "5x5" reduce, "5x5" (a 3x3, as in the checkpoint) | pool projection."""
  return iu.mixed([
      [iu.conv(d0, 1, 'Conv2d_0a_1x1')],
      [iu.conv(d1a, 1, 'Conv2d_0a_1x1'), iu.conv(d1b, 3, 'Conv2d_0b_3x3')],
      [iu.conv(d2a, 1, 'Conv2d_0a_1x1'), iu.conv(d2b, 3, scope_2b)],
      [iu.layer(slim.max_pool2d, 3, 'MaxPool_0a_3x3'),
       iu.conv(d3, 1, 'Conv2d_0b_1x1')],
  ])


# 224x224x3 -> 28x28x192.
_ROOT = [
    ('Conv2d_1a_7x7', iu.conv(64, 7, stride=2)),
    ('MaxPool_2a_3x3', iu.layer(slim.max_pool2d, 3, stride=2)),
    ('Conv2d_2b_1x1', iu.conv(64, 1)),
    ('Conv2d_2c_3x3', iu.conv(192, 3)),
    ('MaxPool_3a_3x3', iu.layer(slim.max_pool2d, 3, stride=2)),
]

# 28x28x192 -> 7x7x1024.
_MODULES = [
    ('Mixed_3b', _module(64, 96, 128, 16, 32, 32)),
    ('Mixed_3c', _module(128, 128, 192, 32, 96, 64)),
    ('MaxPool_4a_3x3', iu.layer(slim.max_pool2d, 3, stride=2)),
    ('Mixed_4b', _module(192, 96, 208, 16, 48, 64)),
    ('Mixed_4c', _module(160, 112, 224, 24, 64, 64)),
    ('Mixed_4d', _module(128, 128, 256, 24, 64, 64)),
    ('Mixed_4e', _module(112, 144, 288, 32, 64, 64)),
    ('Mixed_4f', _module(256, 160, 320, 32, 128, 128)),
    ('MaxPool_5a_2x2', iu.layer(slim.max_pool2d, 2, stride=2)),
    # The published checkpoint names one layer of Mixed_5b `0a`.
    ('Mixed_5b', _module(256, 160, 320, 32, 128, 128,
                         scope_2b='Conv2d_0a_3x3')),
    ('Mixed_5c', _module(384, 192, 384, 48, 128, 128)),
]


def inception_v1_base(inputs, final_endpoint='Mixed_5c',
                      include_root_block=True, scope='InceptionV1'):
  """Inception v1 up to `final_endpoint`.

  Args:
    inputs: float Tensor [batch, height, width, channels]; 224x224 gives
      Mixed_5c [batch, 7, 7, 1024].
    final_endpoint: one of 'Conv2d_1a_7x7', 'MaxPool_2a_3x3',
      'Conv2d_2b_1x1', 'Conv2d_2c_3x3', 'MaxPool_3a_3x3' (root block),
      'Mixed_3b', 'Mixed_3c', 'MaxPool_4a_3x3', 'Mixed_4b' .. 'Mixed_4f',
      'MaxPool_5a_2x2', 'Mixed_5b', 'Mixed_5c'.
    include_root_block: build the root block; False starts at Mixed_3b on
      `inputs` (e.g. [batch, 28, 28, 192] features), and its end points are
      not available.
    scope: variable scope.

  Returns:
    (net, end_points): the final_endpoint output and name -> Tensor.

  Raises:
    ValueError: for an unknown final_endpoint.
  """
  layers = (_ROOT if include_root_block else []) + _MODULES
  with tf.variable_scope(scope, 'InceptionV1', [inputs]), \
      slim.arg_scope([slim.conv2d, slim.fully_connected],
                     weights_initializer=iu.trunc_normal(0.01)), \
      slim.arg_scope([slim.conv2d, slim.max_pool2d], stride=1,
                     padding='SAME'):
    return iu.build_layers(inputs, layers, final_endpoint)


def inception_v1(inputs, num_classes=1000, is_training=True,
                 dropout_keep_prob=0.8, prediction_fn=slim.softmax,
                 spatial_squeeze=True, reuse=None, scope='InceptionV1',
                 global_pool=False):
  """Inception v1 classifier.

  Args:
    inputs: float Tensor [batch, height, width, channels], 224x224 for the
      published checkpoint.
    num_classes: logits width; 0 or None returns the pooled features
      [batch, 1, 1, 1024] (before dropout) and creates no logits variables.
    is_training: batch norm and dropout mode.
    dropout_keep_prob: keep probability of the dropout before the logits.
    prediction_fn: logits -> `Predictions` end point.
    spatial_squeeze: logits [batch, num_classes] rather than
      [batch, 1, 1, num_classes].
    reuse: whether to reuse the variables of `scope`.
    scope: variable scope.
    global_pool: average the whole last map (end point `global_pool`), so
      larger inputs still give 1x1; otherwise the fixed 7x7 pool
      `AvgPool_0a_7x7` (clipped to smaller maps).

  Returns:
    (logits, end_points), with end points `AvgPool_0a_7x7` (or
    `global_pool`), `Logits` and `Predictions` besides the base's.
  """
  with tf.variable_scope(scope, 'InceptionV1', [inputs], reuse=reuse) as sc, \
      slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
    net, end_points = inception_v1_base(inputs, scope=sc)
    return iu.inception_logits(net, end_points, _HEAD, num_classes,
                               global_pool, dropout_keep_prob, spatial_squeeze,
                               prediction_fn)


inception_v1.default_image_size = 224
