"""3-D Inception building blocks shared by the video models I3D and S3D-G.

Both inflate Inception v1 (GoogLeNet) to video: inputs are
[batch, frames, height, width, channels] ('NDHWC'; S3D-G also accepts
'NCDHW'). Variable names follow the published checkpoints, which keep the
2-D Inception v1 layer names (`Conv2d_0b_3x3` for a 3x3x3 convolution).
"""

import numpy as np
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import inception_utils


def _channel_axis(data_format):
  return data_format.index('C')


def center_initializer():
  """Initialises a [t, 1, 1, c, c] temporal convolution to the identity.

  The weight at the central frame of the kernel is 1 from each channel to
  itself and every other weight 0, so a separable S3D block starts as its
  spatial convolution alone: research/slim's initialiser of the `temporal`
  half of `conv3d_spatiotemporal`, which the training from scratch of
  separable models depends on.

  Returns:
    An initializer fn(shape, dtype=tf.float32, partition_info=None).
  """

  def initializer(shape, dtype=tf.float32, partition_info=None):
    del partition_info  # A whole variable only.
    shape = list(shape)
    if dtype not in (tf.float32, tf.bfloat16):
      raise ValueError('center_initializer makes float32 or bfloat16 '
                       'weights, not %s.' % dtype.name)
    if len(shape) != 5:
      raise ValueError('center_initializer needs a 5-D [t, 1, 1, c, c] '
                       'kernel shape, got %s.' % shape)
    if shape[1:3] != [1, 1] or shape[3] != shape[4] or shape[0] % 2 == 0:
      raise ValueError('center_initializer needs an odd temporal size, 1x1 '
                       'spatially and as many inputs as outputs: [t, 1, 1, '
                       'c, c], got %s.' % shape)
    weights = np.zeros(shape, np.float32)
    weights[shape[0] // 2, 0, 0] = np.eye(shape[3], dtype=np.float32)
    return tf.constant(weights, dtype=dtype)

  return initializer


@slim.add_arg_scope
def conv3d_spatiotemporal(inputs, num_outputs, kernel_size, stride=1,
                          padding='SAME', activation_fn=None,
                          normalizer_fn=None, normalizer_params=None,
                          weights_regularizer=None, separable=False,
                          data_format='NDHWC', scope=''):
  """A 3-D convolution, optionally factored into space then time (S3D).

  Args:
    inputs: 5-D float Tensor.
    num_outputs: output channels.
    kernel_size: [time, height, width].
    stride: int or [time, height, width].
    padding: 'SAME' or 'VALID'.
    activation_fn, normalizer_fn, normalizer_params, weights_regularizer: as
      for slim.conv3d (usually set by the arg_scope).
    separable: if True and kernel_size[0] > 1, a [1, h, w] convolution
      (variables under `scope`) followed by a [t, 1, 1] convolution with
      biases, no normalizer and `center_initializer` weights (variables
      under `scope`/temporal).
    data_format: 'NDHWC' or 'NCDHW'.
    scope: variable scope of the (spatial) convolution.

  Returns:
    5-D Tensor with num_outputs channels.
  """
  if len(kernel_size) != 3:
    raise ValueError('kernel_size must be [time, height, width], got %r' %
                     (kernel_size,))
  conv_args = dict(padding=padding, activation_fn=activation_fn,
                   data_format=data_format)
  if not (separable and kernel_size[0] != 1):
    return slim.conv3d(inputs, num_outputs, kernel_size, stride=stride,
                       normalizer_fn=normalizer_fn,
                       normalizer_params=normalizer_params,
                       weights_regularizer=weights_regularizer, scope=scope,
                       **conv_args)
  strides = stride if isinstance(stride, (list, tuple)) else [stride] * 3
  net = slim.conv3d(inputs, num_outputs, [1, kernel_size[1], kernel_size[2]],
                    stride=[1, strides[1], strides[2]],
                    normalizer_fn=normalizer_fn,
                    normalizer_params=normalizer_params,
                    weights_regularizer=weights_regularizer, scope=scope,
                    **conv_args)
  return slim.conv3d(net, num_outputs, [kernel_size[0], 1, 1],
                     stride=[strides[0], 1, 1], normalizer_fn=None,
                     weights_initializer=center_initializer(),
                     scope=scope + '/temporal', **conv_args)


def self_gating(input_tensor, scope, data_format='NDHWC'):
  """Feature gating of S3D-G: x * sigmoid(W mean_{t,h,w}(x)).

  The per-channel weights come from a bias-free 1x1x1 convolution
  (`scope`/self_gating/transformer_W) of the spatio-temporal average.

  Args:
    input_tensor: 5-D float Tensor.
    scope: variable scope the gating variables are placed under.
    data_format: 'NDHWC' or 'NCDHW'.

  Returns:
    Tensor of the shape of `input_tensor`.
  """
  channel_axis = _channel_axis(data_format)
  other_axes = [a for a in (1, 2, 3, 4) if a != channel_axis]
  with tf.variable_scope(scope), tf.variable_scope('self_gating'):
    average = tf.reduce_mean(input_tensor, other_axes, keepdims=True)
    weights = slim.conv3d(
        average, input_tensor.get_shape().as_list()[channel_axis], [1, 1, 1],
        activation_fn=None, normalizer_fn=None, biases_initializer=None,
        weights_initializer=inception_utils.trunc_normal(0.01),
        data_format=data_format, scope='transformer_W')
    return tf.sigmoid(weights) * input_tensor


def inception_block_v1_3d(inputs, num_outputs_0_0a, num_outputs_1_0a,
                          num_outputs_1_0b, num_outputs_2_0a,
                          num_outputs_2_0b, num_outputs_3_0b,
                          temporal_kernel_size=3, self_gating_fn=None,
                          data_format='NDHWC', scope=''):
  """An inflated Inception v1 block: four branches concatenated on channels.

  Branch_0: 1x1x1; Branch_1 and Branch_2: 1x1x1 then [t, 3, 3] (through
  `conv3d_spatiotemporal`, so separable where the arg_scope says so);
  Branch_3: 3x3x3 max pool then 1x1x1. With `self_gating_fn`, the last
  layer of each branch is gated.

  Args:
    inputs: 5-D float Tensor.
    num_outputs_*: channels of each layer (branch_layer).
    temporal_kernel_size: t of the [t, 3, 3] convolutions.
    self_gating_fn: None or fn(net, scope=...) -> net, e.g. `self_gating`.
    data_format: 'NDHWC' or 'NCDHW'.
    scope: variable scope (the end-point name, e.g. 'Mixed_3b').

  Returns:
    5-D Tensor with the sum of the branch depths as channels.
  """

  def gate(net, name):
    return self_gating_fn(net, scope=name) if self_gating_fn else net

  with tf.variable_scope(scope):
    with tf.variable_scope('Branch_0'):
      branch_0 = slim.conv3d(inputs, num_outputs_0_0a, [1, 1, 1],
                             scope='Conv2d_0a_1x1')
      branch_0 = gate(branch_0, 'Conv2d_0a_1x1')
    with tf.variable_scope('Branch_1'):
      branch_1 = slim.conv3d(inputs, num_outputs_1_0a, [1, 1, 1],
                             scope='Conv2d_0a_1x1')
      branch_1 = conv3d_spatiotemporal(
          branch_1, num_outputs_1_0b, [temporal_kernel_size, 3, 3],
          scope='Conv2d_0b_3x3')
      branch_1 = gate(branch_1, 'Conv2d_0b_3x3')
    with tf.variable_scope('Branch_2'):
      branch_2 = slim.conv3d(inputs, num_outputs_2_0a, [1, 1, 1],
                             scope='Conv2d_0a_1x1')
      branch_2 = conv3d_spatiotemporal(
          branch_2, num_outputs_2_0b, [temporal_kernel_size, 3, 3],
          scope='Conv2d_0b_3x3')
      branch_2 = gate(branch_2, 'Conv2d_0b_3x3')
    with tf.variable_scope('Branch_3'):
      branch_3 = slim.max_pool3d(inputs, [3, 3, 3], scope='MaxPool_0a_3x3')
      branch_3 = slim.conv3d(branch_3, num_outputs_3_0b, [1, 1, 1],
                             scope='Conv2d_0b_1x1')
      branch_3 = gate(branch_3, 'Conv2d_0b_1x1')
    return tf.concat([branch_0, branch_1, branch_2, branch_3],
                     _channel_axis(data_format))


def reduced_kernel_size_3d(input_tensor, kernel_size):
  """kernel_size clipped to the [time, height, width] of NDHWC
  `input_tensor`."""
  shape = input_tensor.get_shape().as_list()
  if None in shape[1:4]:
    return list(kernel_size)
  return [min(s, k) for s, k in zip(shape[1:4], kernel_size)]


def inception_v1_3d_logits(net, end_points, num_classes, dropout_keep_prob,
                           spatial_squeeze, prediction_fn, data_format):
  """The shared classifier head, built in the caller's scope as `Logits`.

  Average-pools [2, 7, 7] (less for smaller inputs) without padding, applies
  dropout and a 1x1x1 convolution to class scores per remaining time step,
  and averages those over time.

  Args:
    net: the Mixed_5c output, 5-D in `data_format`.
    end_points: dict to add 'Logits' and 'Predictions' (or, with
      num_classes 0/None, 'global_pool') to.
    num_classes: logits width; 0 or None returns the time-averaged pooled
      features [batch, 1024] ([batch, 1, 1, 1024] without spatial_squeeze)
      and creates no variables.
    dropout_keep_prob: keep probability of the dropout before the logits.
    spatial_squeeze: whether to drop the two 1-sized spatial axes.
    prediction_fn: maps logits to the `Predictions` end point.
    data_format: of `net`, 'NDHWC' or 'NCDHW'.

  Returns:
    (logits [batch, num_classes] or features, end_points).
  """
  with tf.variable_scope('Logits'):
    if data_format.startswith('NC'):
      net = tf.transpose(net, [0, 2, 3, 4, 1])
    kernel_size = reduced_kernel_size_3d(net, [2, 7, 7])
    net = slim.avg_pool3d(net, kernel_size, stride=1, padding='VALID',
                          data_format='NDHWC', scope='AvgPool_0a_7x7')
    if not num_classes:
      net = tf.reduce_mean(net, axis=1)
      if spatial_squeeze:
        net = tf.squeeze(net, [1, 2], name='SpatialSqueeze')
      end_points['global_pool'] = net
      return net, end_points
    net = slim.dropout(net, dropout_keep_prob, scope='Dropout_0b')
    logits = slim.conv3d(net, num_classes, [1, 1, 1], activation_fn=None,
                         normalizer_fn=None, data_format='NDHWC',
                         scope='Conv2d_0c_1x1')
    logits = tf.reduce_mean(logits, axis=1)
    if spatial_squeeze:
      logits = tf.squeeze(logits, [1, 2], name='SpatialSqueeze')
    end_points['Logits'] = logits
    end_points['Predictions'] = prediction_fn(logits, scope='Predictions')
  return logits, end_points


def video_arg_scope(weight_decay=1e-7, batch_norm_decay=0.999,
                    batch_norm_epsilon=0.001, use_renorm=False,
                    separable_conv3d=False):
  """arg_scope of I3D / S3D-G: ReLU convs with batch norm (no gamma).

  Args:
    weight_decay: L2 coefficient on the convolution weights.
    batch_norm_decay: moving-average decay of the batch-norm statistics.
    batch_norm_epsilon: added to the variance before dividing.
    use_renorm: batch renormalisation.
    separable_conv3d: whether `conv3d_spatiotemporal` factors [t, h, w]
      kernels into [1, h, w] and [t, 1, 1] (S3D) or not (I3D).

  Returns:
    An arg_scope.
  """
  batch_norm_params = {
      'decay': batch_norm_decay,
      'epsilon': batch_norm_epsilon,
      'fused': False,  # 5-D inputs.
      'renorm': use_renorm,
      'variables_collections': {
          'beta': None,
          'gamma': None,
          'moving_mean': ['moving_vars'],
          'moving_variance': ['moving_vars'],
      },
  }
  with slim.arg_scope(
      [slim.conv3d, conv3d_spatiotemporal],
      weights_regularizer=slim.l2_regularizer(weight_decay),
      activation_fn=tf.nn.relu, normalizer_fn=slim.batch_norm,
      normalizer_params=batch_norm_params):
    with slim.arg_scope([conv3d_spatiotemporal],
                        separable=separable_conv3d) as scope:
      return scope
