"""OverFeat (the fast model) of the TF-Slim model zoo (scope `overfeat`).

Sermanet et al., "OverFeat: Integrated Recognition, Localization and
Detection using Convolutional Networks" (arXiv:1312.6229). The fully
connected layers are convolutions (`fc6` a 6x6 VALID one), so the network
also runs fully convolutionally on larger inputs with spatial_squeeze=False.
Input [batch, 231, 231, 3]; the arguments are research/slim's.
"""

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import alexnet

trunc_normal = alexnet.trunc_normal  # research/slim's module-level name.


def overfeat_arg_scope(weight_decay=0.0005):
  """ReLU, L2 weight decay, zero biases, SAME convolutions, VALID pools."""
  with slim.arg_scope([slim.conv2d, slim.fully_connected],
                      activation_fn=tf.nn.relu,
                      weights_regularizer=slim.l2_regularizer(weight_decay),
                      biases_initializer=tf.zeros_initializer()):
    with slim.arg_scope([slim.conv2d], padding='SAME'):
      with slim.arg_scope([slim.max_pool2d], padding='VALID') as arg_sc:
        return arg_sc


def overfeat(inputs,
             num_classes=1000,
             is_training=True,
             dropout_keep_prob=0.5,
             spatial_squeeze=True,
             scope='overfeat',
             global_pool=False):
  """Builds OverFeat; the arguments and results are as in alexnet.alexnet_v2.

  Inputs of 231x231 give 1x1 logits.
  """
  with tf.variable_scope(scope, 'overfeat', [inputs]) as sc:
    collection = sc.original_name_scope + '_end_points'
    with slim.arg_scope([slim.conv2d, slim.fully_connected, slim.max_pool2d],
                        outputs_collections=collection):
      net = slim.conv2d(inputs, 64, [11, 11], 4, padding='VALID',
                        scope='conv1')
      net = slim.max_pool2d(net, [2, 2], scope='pool1')
      net = slim.conv2d(net, 256, [5, 5], padding='VALID', scope='conv2')
      net = slim.max_pool2d(net, [2, 2], scope='pool2')
      net = slim.conv2d(net, 512, [3, 3], scope='conv3')
      net = slim.conv2d(net, 1024, [3, 3], scope='conv4')
      net = slim.conv2d(net, 1024, [3, 3], scope='conv5')
      net = slim.max_pool2d(net, [2, 2], scope='pool5')
      with slim.arg_scope([slim.conv2d],
                          weights_initializer=trunc_normal(0.005),
                          biases_initializer=tf.constant_initializer(0.1)):
        return alexnet.classifier_head(
            net, 3072, [6, 6], collection, sc.name, num_classes, is_training,
            dropout_keep_prob, spatial_squeeze, global_pool)


overfeat.default_image_size = 231
