"""LeNet: the MNIST-sized network of the TF-Slim model zoo (scope `LeNet`)."""

import tensorflow.compat.v1 as tf
import tf_slim as slim


def lenet(images, num_classes=10, is_training=False, dropout_keep_prob=0.5,
          prediction_fn=slim.softmax, scope='LeNet'):
  """Builds LeNet.

  Args:
    images: float Tensor [batch, 28, 28, channels].
    num_classes: logits width; 0 or None returns the fc3 features
      [batch, 1024] (after dropout).
    is_training: whether dropout is active.
    dropout_keep_prob: keep probability of the dropout after fc3.
    prediction_fn: maps logits to the `Predictions` end point.
    scope: variable scope.

  Returns:
    (logits [batch, num_classes], end_points dict name -> Tensor).
  """
  end_points = {}
  with tf.variable_scope(scope, 'LeNet', [images]):
    net = end_points['conv1'] = slim.conv2d(images, 32, [5, 5], scope='conv1')
    net = end_points['pool1'] = slim.max_pool2d(net, [2, 2], 2, scope='pool1')
    net = end_points['conv2'] = slim.conv2d(net, 64, [5, 5], scope='conv2')
    net = end_points['pool2'] = slim.max_pool2d(net, [2, 2], 2, scope='pool2')
    net = end_points['Flatten'] = slim.flatten(net)
    net = end_points['fc3'] = slim.fully_connected(net, 1024, scope='fc3')
    net = end_points['dropout3'] = slim.dropout(
        net, dropout_keep_prob, is_training=is_training, scope='dropout3')
    if not num_classes:
      return net, end_points
    logits = end_points['Logits'] = slim.fully_connected(
        net, num_classes, activation_fn=None, scope='fc4')
    end_points['Predictions'] = prediction_fn(logits, scope='Predictions')
  return logits, end_points


lenet.default_image_size = 28


def lenet_arg_scope(weight_decay=0.0):
  """Default arg_scope: ReLU, truncated-normal init, L2 weight decay."""
  with slim.arg_scope(
      [slim.conv2d, slim.fully_connected],
      weights_regularizer=slim.l2_regularizer(weight_decay),
      weights_initializer=tf.truncated_normal_initializer(stddev=0.1),
      activation_fn=tf.nn.relu) as scope:
    return scope
