"""Inception-v4 of the TF-Slim model zoo (scope `InceptionV4`).

Szegedy et al., "Inception-v4, Inception-ResNet and the Impact of Residual
Connections on Learning", https://arxiv.org/abs/1602.07261 (figures 3-9).
Variable and end-point names follow the published checkpoint
(inception_v4_2016_09_09): a stem (`Conv2d_1a_3x3` .. `Mixed_5a`), four
Inception-A blocks (`Mixed_5b`..`Mixed_5e`, 35x35x384), reduction A
(`Mixed_6a`), seven Inception-B blocks (`Mixed_6b`..`Mixed_6h`, 17x17x1024),
reduction B (`Mixed_7a`) and three Inception-C blocks (`Mixed_7b`..`Mixed_7d`,
8x8x1536), for a 299x299 input.
"""

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import inception_utils as iu


def _concat(branches):
  return tf.concat(axis=3, values=branches)


def block_inception_a(inputs, scope=None, reuse=None):
  """Inception-A (figure 4): 35x35x384 -> 35x35x384."""
  with tf.variable_scope(scope, 'BlockInceptionA', [inputs], reuse=reuse):
    with tf.variable_scope('Branch_0'):
      branch_0 = slim.conv2d(inputs, 96, [1, 1], scope='Conv2d_0a_1x1')
    with tf.variable_scope('Branch_1'):
      branch_1 = slim.conv2d(inputs, 64, [1, 1], scope='Conv2d_0a_1x1')
      branch_1 = slim.conv2d(branch_1, 96, [3, 3], scope='Conv2d_0b_3x3')
    with tf.variable_scope('Branch_2'):
      branch_2 = slim.conv2d(inputs, 64, [1, 1], scope='Conv2d_0a_1x1')
      branch_2 = slim.conv2d(branch_2, 96, [3, 3], scope='Conv2d_0b_3x3')
      branch_2 = slim.conv2d(branch_2, 96, [3, 3], scope='Conv2d_0c_3x3')
    with tf.variable_scope('Branch_3'):
      branch_3 = slim.avg_pool2d(inputs, [3, 3], scope='AvgPool_0a_3x3')
      branch_3 = slim.conv2d(branch_3, 96, [1, 1], scope='Conv2d_0b_1x1')
    return _concat([branch_0, branch_1, branch_2, branch_3])


def block_reduction_a(inputs, scope=None, reuse=None):
  """Reduction-A (figure 7, k=192 l=224 m=256 n=384): 35x35 -> 17x17x1024."""
  with tf.variable_scope(scope, 'BlockReductionA', [inputs], reuse=reuse):
    with tf.variable_scope('Branch_0'):
      branch_0 = slim.conv2d(inputs, 384, [3, 3], stride=2, padding='VALID',
                             scope='Conv2d_1a_3x3')
    with tf.variable_scope('Branch_1'):
      branch_1 = slim.conv2d(inputs, 192, [1, 1], scope='Conv2d_0a_1x1')
      branch_1 = slim.conv2d(branch_1, 224, [3, 3], scope='Conv2d_0b_3x3')
      branch_1 = slim.conv2d(branch_1, 256, [3, 3], stride=2,
                             padding='VALID', scope='Conv2d_1a_3x3')
    with tf.variable_scope('Branch_2'):
      branch_2 = slim.max_pool2d(inputs, [3, 3], stride=2, padding='VALID',
                                 scope='MaxPool_1a_3x3')
    return _concat([branch_0, branch_1, branch_2])


def block_inception_b(inputs, scope=None, reuse=None):
  """Inception-B (figure 5): 17x17x1024 -> 17x17x1024."""
  with tf.variable_scope(scope, 'BlockInceptionB', [inputs], reuse=reuse):
    with tf.variable_scope('Branch_0'):
      branch_0 = slim.conv2d(inputs, 384, [1, 1], scope='Conv2d_0a_1x1')
    with tf.variable_scope('Branch_1'):
      branch_1 = slim.conv2d(inputs, 192, [1, 1], scope='Conv2d_0a_1x1')
      branch_1 = slim.conv2d(branch_1, 224, [1, 7], scope='Conv2d_0b_1x7')
      branch_1 = slim.conv2d(branch_1, 256, [7, 1], scope='Conv2d_0c_7x1')
    with tf.variable_scope('Branch_2'):
      branch_2 = slim.conv2d(inputs, 192, [1, 1], scope='Conv2d_0a_1x1')
      branch_2 = slim.conv2d(branch_2, 192, [7, 1], scope='Conv2d_0b_7x1')
      branch_2 = slim.conv2d(branch_2, 224, [1, 7], scope='Conv2d_0c_1x7')
      branch_2 = slim.conv2d(branch_2, 224, [7, 1], scope='Conv2d_0d_7x1')
      branch_2 = slim.conv2d(branch_2, 256, [1, 7], scope='Conv2d_0e_1x7')
    with tf.variable_scope('Branch_3'):
      branch_3 = slim.avg_pool2d(inputs, [3, 3], scope='AvgPool_0a_3x3')
      branch_3 = slim.conv2d(branch_3, 128, [1, 1], scope='Conv2d_0b_1x1')
    return _concat([branch_0, branch_1, branch_2, branch_3])


def block_reduction_b(inputs, scope=None, reuse=None):
  """Reduction-B (figure 8): 17x17x1024 -> 8x8x1536."""
  with tf.variable_scope(scope, 'BlockReductionB', [inputs], reuse=reuse):
    with tf.variable_scope('Branch_0'):
      branch_0 = slim.conv2d(inputs, 192, [1, 1], scope='Conv2d_0a_1x1')
      branch_0 = slim.conv2d(branch_0, 192, [3, 3], stride=2,
                             padding='VALID', scope='Conv2d_1a_3x3')
    with tf.variable_scope('Branch_1'):
      branch_1 = slim.conv2d(inputs, 256, [1, 1], scope='Conv2d_0a_1x1')
      branch_1 = slim.conv2d(branch_1, 256, [1, 7], scope='Conv2d_0b_1x7')
      branch_1 = slim.conv2d(branch_1, 320, [7, 1], scope='Conv2d_0c_7x1')
      branch_1 = slim.conv2d(branch_1, 320, [3, 3], stride=2,
                             padding='VALID', scope='Conv2d_1a_3x3')
    with tf.variable_scope('Branch_2'):
      branch_2 = slim.max_pool2d(inputs, [3, 3], stride=2, padding='VALID',
                                 scope='MaxPool_1a_3x3')
    return _concat([branch_0, branch_1, branch_2])


def block_inception_c(inputs, scope=None, reuse=None):
  """Inception-C (figure 6): 8x8x1536 -> 8x8x1536."""
  with tf.variable_scope(scope, 'BlockInceptionC', [inputs], reuse=reuse):
    with tf.variable_scope('Branch_0'):
      branch_0 = slim.conv2d(inputs, 256, [1, 1], scope='Conv2d_0a_1x1')
    with tf.variable_scope('Branch_1'):
      branch_1 = slim.conv2d(inputs, 384, [1, 1], scope='Conv2d_0a_1x1')
      branch_1 = _concat([
          slim.conv2d(branch_1, 256, [1, 3], scope='Conv2d_0b_1x3'),
          slim.conv2d(branch_1, 256, [3, 1], scope='Conv2d_0c_3x1')])
    with tf.variable_scope('Branch_2'):
      branch_2 = slim.conv2d(inputs, 384, [1, 1], scope='Conv2d_0a_1x1')
      branch_2 = slim.conv2d(branch_2, 448, [3, 1], scope='Conv2d_0b_3x1')
      branch_2 = slim.conv2d(branch_2, 512, [1, 3], scope='Conv2d_0c_1x3')
      branch_2 = _concat([
          slim.conv2d(branch_2, 256, [1, 3], scope='Conv2d_0d_1x3'),
          slim.conv2d(branch_2, 256, [3, 1], scope='Conv2d_0e_3x1')])
    with tf.variable_scope('Branch_3'):
      branch_3 = slim.avg_pool2d(inputs, [3, 3], scope='AvgPool_0a_3x3')
      branch_3 = slim.conv2d(branch_3, 256, [1, 1], scope='Conv2d_0b_1x1')
    return _concat([branch_0, branch_1, branch_2, branch_3])


# Stem (figure 3): 299x299x3 -> 35x35x384.
_STEM = [
    ('Conv2d_1a_3x3', iu.conv(32, 3, stride=2, padding='VALID')),
    ('Conv2d_2a_3x3', iu.conv(32, 3, padding='VALID')),
    ('Conv2d_2b_3x3', iu.conv(64, 3)),
    ('Mixed_3a', iu.mixed([
        [iu.layer(slim.max_pool2d, 3, 'MaxPool_0a_3x3', stride=2,
                  padding='VALID')],
        [iu.conv(96, 3, 'Conv2d_0a_3x3', stride=2, padding='VALID')]])),
    ('Mixed_4a', iu.mixed([
        [iu.conv(64, 1, 'Conv2d_0a_1x1'),
         iu.conv(96, 3, 'Conv2d_1a_3x3', padding='VALID')],
        [iu.conv(64, 1, 'Conv2d_0a_1x1'), iu.conv(64, [1, 7], 'Conv2d_0b_1x7'),
         iu.conv(64, [7, 1], 'Conv2d_0c_7x1'),
         iu.conv(96, 3, 'Conv2d_1a_3x3', padding='VALID')]])),
    ('Mixed_5a', iu.mixed([
        [iu.conv(192, 3, 'Conv2d_1a_3x3', stride=2, padding='VALID')],
        [iu.layer(slim.max_pool2d, 3, 'MaxPool_1a_3x3', stride=2,
                  padding='VALID')]])),
]

# 4 x Inception-A, reduction A, 7 x Inception-B, reduction B, 3 x
# Inception-C: the base's (end point, layer) pairs in order.
_LAYERS = (_STEM +
           [('Mixed_5' + c, block_inception_a) for c in 'bcde'] +
           [('Mixed_6a', block_reduction_a)] +
           [('Mixed_6' + c, block_inception_b) for c in 'bcdefgh'] +
           [('Mixed_7a', block_reduction_b)] +
           [('Mixed_7' + c, block_inception_c) for c in 'bcd'])


def inception_v4_base(inputs, final_endpoint='Mixed_7d', scope=None):
  """Inception-v4 up to `final_endpoint`.

  Args:
    inputs: float Tensor [batch, height, width, 3]; 299x299 gives the sizes
      noted in the module docstring.
    final_endpoint: the last end point to build, one of 'Conv2d_1a_3x3',
      'Conv2d_2a_3x3', 'Conv2d_2b_3x3', 'Mixed_3a', 'Mixed_4a', 'Mixed_5a',
      'Mixed_5b'..'Mixed_5e', 'Mixed_6a'..'Mixed_6h', 'Mixed_7a'..'Mixed_7d'.
    scope: variable scope (default 'InceptionV4').

  Returns:
    (net, end_points): the output of `final_endpoint` and every end point
    built so far.

  Raises:
    ValueError: if `final_endpoint` is not one of the names above (nothing
      is built then).
  """
  with tf.variable_scope(scope, 'InceptionV4', [inputs]):
    with slim.arg_scope([slim.conv2d, slim.max_pool2d, slim.avg_pool2d],
                        stride=1, padding='SAME'):
      return iu.build_layers(inputs, _LAYERS, final_endpoint)


def inception_v4(inputs, num_classes=1001, is_training=True,
                 dropout_keep_prob=0.8, reuse=None, scope='InceptionV4',
                 create_aux_logits=True):
  """Inception-v4 for classification.

  Args:
    inputs: float Tensor [batch, 299, 299, 3] (other sizes of at least
      75x75 work; the final pool then covers the whole feature map).
    num_classes: logits width (1001 for the published checkpoint: class 0 is
      "background"); 0 or None returns the pooled features
      [batch, 1, 1, 1536] (end point `global_pool`) and creates no logits.
    is_training: whether batch norm and dropout run in training mode.
    dropout_keep_prob: keep probability of the dropout before the logits.
    reuse: whether to reuse the variables of `scope`.
    scope: variable scope.
    create_aux_logits: whether to build the auxiliary classifier on Mixed_6h
      (`AuxLogits`, [batch, num_classes]).

  Returns:
    (logits [batch, num_classes], end_points dict name -> Tensor).
  """
  with tf.variable_scope(scope, 'InceptionV4', [inputs],
                         reuse=reuse) as scope:
    with slim.arg_scope([slim.batch_norm, slim.dropout],
                        is_training=is_training):
      net, end_points = inception_v4_base(inputs, scope=scope)

      with slim.arg_scope([slim.conv2d, slim.max_pool2d, slim.avg_pool2d],
                          stride=1, padding='SAME'):
        if create_aux_logits and num_classes:
          with tf.variable_scope('AuxLogits'):
            # 17x17x1024 -> 5x5x1024 -> 5x5x128 -> 1x1x768.
            aux = slim.avg_pool2d(end_points['Mixed_6h'], [5, 5], stride=3,
                                  padding='VALID', scope='AvgPool_1a_5x5')
            aux = slim.conv2d(aux, 128, [1, 1], scope='Conv2d_1b_1x1')
            aux = slim.conv2d(aux, 768, aux.get_shape()[1:3],
                              padding='VALID', scope='Conv2d_2a')
            aux = slim.flatten(aux)
            aux = slim.fully_connected(aux, num_classes, activation_fn=None,
                                       scope='Aux_logits')
            end_points['AuxLogits'] = aux

        with tf.variable_scope('Logits'):
          # 8x8x1536 -> 1x1x1536.
          kernel_size = net.get_shape()[1:3]
          if kernel_size.is_fully_defined():
            net = slim.avg_pool2d(net, kernel_size, padding='VALID',
                                  scope='AvgPool_1a')
          else:
            net = tf.reduce_mean(net, [1, 2], keepdims=True,
                                 name='global_pool')
          end_points['global_pool'] = net
          if not num_classes:
            return net, end_points
          net = slim.dropout(net, dropout_keep_prob, scope='Dropout_1b')
          net = slim.flatten(net, scope='PreLogitsFlatten')
          end_points['PreLogitsFlatten'] = net
          logits = slim.fully_connected(net, num_classes, activation_fn=None,
                                        scope='Logits')
          end_points['Logits'] = logits
          end_points['Predictions'] = tf.nn.softmax(logits,
                                                    name='Predictions')
  return logits, end_points


inception_v4.default_image_size = 299


# research/slim's: the Inception arg scope, shared with v1-v3.
inception_v4_arg_scope = iu.inception_arg_scope
