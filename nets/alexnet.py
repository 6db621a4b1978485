"""AlexNet v2 of the TF-Slim model zoo (scope `alexnet_v2`).

Krizhevsky, "One weird trick for parallelizing convolutional neural
networks" (arXiv:1404.5997), single-tower, without the local response
normalisation. The fully connected layers are convolutions (`fc6` a 5x5
VALID one), so the network also runs fully convolutionally on larger inputs
with spatial_squeeze=False. Input [batch, 224, 224, 3]; the arguments are
research/slim's.

`classifier_head` is the fc6-fc8 head that OverFeat and VGG share.
"""

import tensorflow.compat.v1 as tf
import tf_slim as slim


def trunc_normal(stddev):
  return tf.truncated_normal_initializer(0.0, stddev)


def alexnet_v2_arg_scope(weight_decay=0.0005):
  """ReLU, L2 weight decay, biases 0.1, SAME convolutions, VALID pools."""
  with slim.arg_scope([slim.conv2d, slim.fully_connected],
                      activation_fn=tf.nn.relu,
                      biases_initializer=tf.constant_initializer(0.1),
                      weights_regularizer=slim.l2_regularizer(weight_decay)):
    with slim.arg_scope([slim.conv2d], padding='SAME'):
      with slim.arg_scope([slim.max_pool2d], padding='VALID') as arg_sc:
        return arg_sc


def classifier_head(net, fc6_depth, fc6_kernel, collection, scope_name,
                    num_classes, is_training, dropout_keep_prob,
                    spatial_squeeze, global_pool, fc6_padding='VALID'):
  """The fully connected layers fc6, fc7 and fc8, as convolutions.

  fc6 (fc6_kernel, fc6_padding) -> dropout6 -> fc7 (1x1, 4096) [-> global
  average pool] -> dropout7 -> fc8 (1x1, num_classes, linear, zero biases).

  Args:
    net: the last pool's output [batch, height, width, channels].
    fc6_depth: fc6 output channels.
    fc6_kernel: fc6 kernel size, [kh, kw].
    collection: the end-point collection the layers add their outputs to
      (read into the end-point dict after fc7).
    scope_name: the network's variable scope name (for `<scope>/fc8`).
    num_classes: fc8 width; 0 or None: no fc8, return the fc7 features.
    is_training: whether dropout is active.
    dropout_keep_prob: keep probability of dropout6 and dropout7.
    spatial_squeeze: whether fc8 drops its spatial axes.
    global_pool: average fc7 to [batch, 1, 1, 4096] (any input size).
    fc6_padding: 'VALID' (classification) or 'SAME' (fully convolutional).

  Returns:
    (net, end_points): the logits [batch, num_classes] (spatial_squeeze)
    or [batch, h, w, num_classes]; with no num_classes, fc7's output
    [batch, h, w, 4096] (h = w = 1 with global_pool). end_points has the
    collected layers, `global_pool` and `<scope>/fc8`.
  """
  net = slim.conv2d(net, fc6_depth, fc6_kernel, padding=fc6_padding,
                    scope='fc6')
  net = slim.dropout(net, dropout_keep_prob, is_training=is_training,
                     scope='dropout6')
  net = slim.conv2d(net, 4096, [1, 1], scope='fc7')
  end_points = slim.utils.convert_collection_to_dict(collection)
  if global_pool:
    net = tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')
    end_points['global_pool'] = net
  if num_classes:
    net = slim.dropout(net, dropout_keep_prob, is_training=is_training,
                       scope='dropout7')
    net = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                      normalizer_fn=None,
                      biases_initializer=tf.zeros_initializer(), scope='fc8')
    if spatial_squeeze:
      net = tf.squeeze(net, [1, 2], name='fc8/squeezed')
    end_points[scope_name + '/fc8'] = net
  return net, end_points


def alexnet_v2(inputs,
               num_classes=1000,
               is_training=True,
               dropout_keep_prob=0.5,
               spatial_squeeze=True,
               scope='alexnet_v2',
               global_pool=False):
  """Builds AlexNet v2.

  Args:
    inputs: Tensor [batch, height, width, 3]; 224x224 gives 1x1 logits.
    num_classes: logits width; 0 or None returns the fc7 features instead.
    is_training: whether dropout is active.
    dropout_keep_prob: keep probability of the dropout after fc6 and fc7.
    spatial_squeeze: logits [batch, num_classes] instead of
      [batch, h, w, num_classes].
    scope: variable scope.
    global_pool: average fc7 to 1x1 before the logits, for any input size
      (not part of the original network).

  Returns:
    (net, end_points): the logits, or the fc7 features [batch, h, w, 4096];
    end_points maps '<scope>/conv1' .. '<scope>/fc8' (and `global_pool`) to
    the layers' outputs.
  """
  with tf.variable_scope(scope, 'alexnet_v2', [inputs]) as sc:
    collection = sc.original_name_scope + '_end_points'
    with slim.arg_scope([slim.conv2d, slim.fully_connected, slim.max_pool2d],
                        outputs_collections=[collection]):
      net = slim.conv2d(inputs, 64, [11, 11], 4, padding='VALID',
                        scope='conv1')
      net = slim.max_pool2d(net, [3, 3], 2, scope='pool1')
      net = slim.conv2d(net, 192, [5, 5], scope='conv2')
      net = slim.max_pool2d(net, [3, 3], 2, scope='pool2')
      net = slim.conv2d(net, 384, [3, 3], scope='conv3')
      net = slim.conv2d(net, 384, [3, 3], scope='conv4')
      net = slim.conv2d(net, 256, [3, 3], scope='conv5')
      net = slim.max_pool2d(net, [3, 3], 2, scope='pool5')
      with slim.arg_scope([slim.conv2d],
                          weights_initializer=trunc_normal(0.005),
                          biases_initializer=tf.constant_initializer(0.1)):
        return classifier_head(
            net, 4096, [5, 5], collection, sc.name, num_classes, is_training,
            dropout_keep_prob, spatial_squeeze, global_pool)


alexnet_v2.default_image_size = 224
