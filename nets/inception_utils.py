"""research/slim's nets/inception_utils.py, and what the Inception nets share.

`inception_arg_scope` is research/slim's public name, and the one arg scope of
Inception v1-v4: `inception_v1_arg_scope` ... `inception_v4_arg_scope` are
this function (Inception-ResNet-v2 has its own, with bias regularisation).

The rest builds Inception v1-v3, which are tables of layers and "Mixed"
modules, with research/slim's variable, scope and end-point names, so the
published checkpoints restore and research/slim code runs unchanged:

  * `layer`, `conv`, `mixed`, `build_layers`: a network body as a list of
    (end-point name, layer) pairs, built up to `final_endpoint`.
  * `InceptionHead` and `inception_logits`: the pooling / dropout / 1x1-conv
    classifier under scope `Logits`, with `global_pool`, `num_classes=0/None`
    -> pre-logits features, `spatial_squeeze` and `prediction_fn`.
"""

import collections
import functools

import tensorflow.compat.v1 as tf
import tf_slim as slim


def inception_arg_scope(weight_decay=0.00004, use_batch_norm=True,
                        batch_norm_decay=0.9997, batch_norm_epsilon=0.001,
                        activation_fn=tf.nn.relu,
                        batch_norm_updates_collections=tf.GraphKeys.UPDATE_OPS,
                        batch_norm_scale=False):
  """The arg_scope the Inception v1-v4 checkpoints were trained with.

  Args:
    weight_decay: L2 strength on conv and fully connected weights.
    use_batch_norm: batch norm after each conv (otherwise biases).
    batch_norm_decay: moving-average decay of the batch-norm statistics.
    batch_norm_epsilon: added to the variance before dividing.
    activation_fn: activation of the convolutions.
    batch_norm_updates_collections: collection of the moving-average updates.
    batch_norm_scale: learn a batch-norm `gamma` (the checkpoints have none).

  Returns:
    An arg_scope dict for `slim.arg_scope`.
  """
  normalizer_params = {
      'decay': batch_norm_decay,
      'epsilon': batch_norm_epsilon,
      'updates_collections': batch_norm_updates_collections,
      'fused': None,  # Fused where the input allows it.
      'scale': batch_norm_scale,
  }
  with slim.arg_scope([slim.conv2d, slim.fully_connected],
                      weights_regularizer=slim.l2_regularizer(weight_decay)):
    with slim.arg_scope(
        [slim.conv2d],
        weights_initializer=slim.variance_scaling_initializer(),
        activation_fn=activation_fn,
        normalizer_fn=slim.batch_norm if use_batch_norm else None,
        normalizer_params=normalizer_params if use_batch_norm else {}) as sc:
      return sc


def trunc_normal(stddev):
  """Truncated-normal initializer with mean 0."""
  return tf.truncated_normal_initializer(0.0, stddev)


def layer(fn, kernel_size, scope=None, **kwargs):
  """A slim layer (conv, pool, ...) bound to all but its input: one layer of
  a network table. kernel_size is an int (square) or [height, width]; scope
  None leaves it to `build_layers` (which passes the end-point name)."""
  if scope is not None:
    kwargs['scope'] = scope
  return functools.partial(fn, kernel_size=kernel_size, **kwargs)


def conv(num_outputs, kernel_size, scope=None, **kwargs):
  """A slim.conv2d `layer` with num_outputs channels."""
  return layer(slim.conv2d, kernel_size, scope, num_outputs=num_outputs,
               **kwargs)


def inception_module(net, branches, scope, concat_axis=3):
  """A Mixed module: parallel branches concatenated along the channels.

  Args:
    net: Tensor [batch, height, width, channels] (NCHW with concat_axis 1).
    branches: lists of layers (callables net -> net); branch i is built
      under scope `Branch_<i>`.
    scope: the module's variable scope, e.g. 'Mixed_5b'.
    concat_axis: the channel axis.

  Returns:
    The concatenation [batch, height', width', sum of branch channels].
  """
  outputs = []
  with tf.variable_scope(scope):
    for index, layers in enumerate(branches):
      with tf.variable_scope('Branch_%d' % index):
        branch = net
        for layer_fn in layers:
          branch = layer_fn(branch)
        outputs.append(branch)
    return tf.concat(axis=concat_axis, values=outputs)


def mixed(branches, concat_axis=3):
  """An `inception_module` layer for a network table."""
  return functools.partial(inception_module, branches=branches,
                           concat_axis=concat_axis)


def build_layers(net, layers, final_endpoint):
  """Builds (name, layer) pairs in order, each with scope=name, up to and
  including `final_endpoint`.

  Returns:
    (net, end_points): the output of final_endpoint and name -> output of
    every layer built.

  Raises:
    ValueError: if final_endpoint is not one of the names (nothing is built).
  """
  names = [name for name, _ in layers]
  if final_endpoint not in names:
    raise ValueError('Unknown final endpoint %s; valid: %s' %
                     (final_endpoint, ', '.join(names)))
  end_points = {}
  for name, layer_fn in layers:
    net = end_points[name] = layer_fn(net, scope=name)
    if name == final_endpoint:
      break
  return net, end_points


def reduced_kernel_size_for_small_input(input_tensor, kernel_size):
  """kernel_size clipped to the static height and width of input_tensor
  [batch, height, width, channels] (unchanged where they are unknown)."""
  shape = input_tensor.get_shape().as_list()
  if shape[1] is None or shape[2] is None:
    return kernel_size
  return [min(shape[1], kernel_size[0]), min(shape[2], kernel_size[1])]


# How each network names and shapes its classifier head (research/slim's).
InceptionHead = collections.namedtuple('InceptionHead', [
    'pool_size',       # [h, w] of the fixed average pool (clipped to input).
    'pool_stride',     # its stride (None: slim's default, 2).
    'pool_scope',      # its scope; '{}x{}' is filled with the clipped size.
    'pool_end_point',  # its end point, e.g. 'AvgPool_1a'.
    'global_pool_name',  # op name of the global_pool=True reduce_mean.
    'dropout_scope',
    'pre_logits',      # whether the dropout output is end point `PreLogits`.
    'logits_scope',
    'predictions_in_logits_scope',  # `<Scope>/Logits/Predictions` op name.
])


def inception_logits(net, end_points, head, num_classes, global_pool,
                     dropout_keep_prob, spatial_squeeze, prediction_fn):
  """The classifier head, under variable scope `Logits`.

  Args:
    net: the last Mixed block [batch, height, width, depth].
    end_points: dict to add the head's end points to.
    head: an `InceptionHead`.
    num_classes: logits width; 0 or None returns the pooled features.
    global_pool: average over the whole map (end point `global_pool`)
      instead of the fixed-size pool, so any input gives 1x1.
    dropout_keep_prob: keep probability of the dropout before the logits.
    spatial_squeeze: logits [batch, num_classes] instead of
      [batch, 1, 1, num_classes].
    prediction_fn: logits -> `Predictions` end point.

  Returns:
    (logits, end_points), or (pooled features [batch, h', w', depth],
    end_points) without classes.
  """
  with tf.variable_scope('Logits'):
    if global_pool:
      net = tf.reduce_mean(net, [1, 2], keepdims=True,
                           name=head.global_pool_name)
      end_points['global_pool'] = net
    else:
      kernel = reduced_kernel_size_for_small_input(net, head.pool_size)
      stride = {} if head.pool_stride is None else {'stride': head.pool_stride}
      net = slim.avg_pool2d(net, kernel, padding='VALID',
                            scope=head.pool_scope.format(*kernel), **stride)
      end_points[head.pool_end_point] = net
    if not num_classes:
      return net, end_points
    net = slim.dropout(net, dropout_keep_prob, scope=head.dropout_scope)
    if head.pre_logits:
      end_points['PreLogits'] = net
    logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                         normalizer_fn=None, scope=head.logits_scope)
    if spatial_squeeze:
      logits = tf.squeeze(logits, [1, 2], name='SpatialSqueeze')
    end_points['Logits'] = logits
    # Graph exports name the output op: keep research/slim's op names.
    if head.predictions_in_logits_scope:
      end_points['Predictions'] = prediction_fn(logits, scope='Predictions')
  if not head.predictions_in_logits_scope:
    end_points['Predictions'] = prediction_fn(logits, scope='Predictions')
  return logits, end_points
