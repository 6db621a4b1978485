"""CifarNet: the small CIFAR-10 network of the TF-Slim model zoo.

Two 5x5 conv / pool / local-response-norm stages and three fully connected
layers. Variable names follow the published checkpoints (scope `CifarNet`).
"""

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import alexnet

trunc_normal = alexnet.trunc_normal  # research/slim's module-level name.


def cifarnet(images, num_classes=10, is_training=False,
             dropout_keep_prob=0.5, prediction_fn=slim.softmax,
             scope='CifarNet'):
  """Builds CifarNet.

  Args:
    images: float Tensor [batch, 32, 32, channels].
    num_classes: logits width; 0 or None returns the fc4 features [batch, 192].
    is_training: whether dropout is active.
    dropout_keep_prob: keep probability of the dropout after fc3.
    prediction_fn: maps logits to the `Predictions` end point.
    scope: variable scope.

  Returns:
    (logits [batch, num_classes], end_points dict name -> Tensor).
  """
  end_points = {}
  with tf.variable_scope(scope, 'CifarNet', [images]):
    net = slim.conv2d(images, 64, [5, 5], scope='conv1')
    end_points['conv1'] = net
    net = slim.max_pool2d(net, [2, 2], 2, scope='pool1')
    end_points['pool1'] = net
    net = tf.nn.lrn(net, 4, bias=1.0, alpha=0.001 / 9.0, beta=0.75,
                    name='norm1')
    net = slim.conv2d(net, 64, [5, 5], scope='conv2')
    end_points['conv2'] = net
    net = tf.nn.lrn(net, 4, bias=1.0, alpha=0.001 / 9.0, beta=0.75,
                    name='norm2')
    net = slim.max_pool2d(net, [2, 2], 2, scope='pool2')
    end_points['pool2'] = net
    net = slim.flatten(net)
    end_points['Flatten'] = net
    net = slim.fully_connected(net, 384, scope='fc3')
    end_points['fc3'] = net
    net = slim.dropout(net, dropout_keep_prob, is_training=is_training,
                       scope='dropout3')
    net = slim.fully_connected(net, 192, scope='fc4')
    end_points['fc4'] = net
    if not num_classes:
      return net, end_points
    logits = slim.fully_connected(
        net, num_classes, biases_initializer=tf.zeros_initializer(),
        weights_initializer=trunc_normal(1 / 192.0),
        weights_regularizer=None, activation_fn=None, scope='logits')
    end_points['Logits'] = logits
    end_points['Predictions'] = prediction_fn(logits, scope='Predictions')
  return logits, end_points


cifarnet.default_image_size = 32


def cifarnet_arg_scope(weight_decay=0.004):
  """Default arg_scope: ReLU, truncated-normal init, L2 on fc weights."""
  with slim.arg_scope(
      [slim.conv2d],
      weights_initializer=trunc_normal(5e-2),
      activation_fn=tf.nn.relu):
    with slim.arg_scope(
        [slim.fully_connected],
        biases_initializer=tf.constant_initializer(0.1),
        weights_initializer=trunc_normal(0.04),
        weights_regularizer=slim.l2_regularizer(weight_decay),
        activation_fn=tf.nn.relu) as scope:
      return scope
