"""MobileNet v1: depthwise-separable convolutions (Howard et al., 2017).

A 3x3 stride-2 convolution followed by 13 depthwise-separable blocks (a 3x3
depthwise convolution, then a 1x1 pointwise convolution, each with batch norm
and ReLU6), an average pool and a 1x1 convolution as classifier. Variable
names follow the published TF-Slim checkpoints (scope `MobilenetV1`), e.g.
`MobilenetV1/Conv2d_3_depthwise/depthwise_weights`.

`depth_multiplier` (the paper's width multiplier alpha) scales every layer's
channel count; `mobilenet_v1_075`, `_050` and `_025` are the published
variants with alpha 0.75, 0.5 and 0.25.
"""

import collections
import functools

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import inception_utils

# A plain convolution: `kernel` [height, width], `stride`, `depth` channels.
Conv = collections.namedtuple('Conv', ['kernel', 'stride', 'depth'])
# A depthwise 3x3 conv (stride `stride`) then a 1x1 conv to `depth` channels.
DepthSepConv = collections.namedtuple('DepthSepConv',
                                      ['kernel', 'stride', 'depth'])

# The layers of MobileNet v1 at depth multiplier 1.0: the total stride is 32,
# so a 224x224 image ends as 7x7x1024.
MOBILENETV1_CONV_DEFS = [
    Conv(kernel=[3, 3], stride=2, depth=32),
    DepthSepConv(kernel=[3, 3], stride=1, depth=64),
    DepthSepConv(kernel=[3, 3], stride=2, depth=128),
    DepthSepConv(kernel=[3, 3], stride=1, depth=128),
    DepthSepConv(kernel=[3, 3], stride=2, depth=256),
    DepthSepConv(kernel=[3, 3], stride=1, depth=256),
    DepthSepConv(kernel=[3, 3], stride=2, depth=512),
    DepthSepConv(kernel=[3, 3], stride=1, depth=512),
    DepthSepConv(kernel=[3, 3], stride=1, depth=512),
    DepthSepConv(kernel=[3, 3], stride=1, depth=512),
    DepthSepConv(kernel=[3, 3], stride=1, depth=512),
    DepthSepConv(kernel=[3, 3], stride=1, depth=512),
    DepthSepConv(kernel=[3, 3], stride=2, depth=1024),
    DepthSepConv(kernel=[3, 3], stride=1, depth=1024),
]


def _fixed_padding(inputs, kernel_size, rate=1):
  """Pads [batch, height, width, channels] so a VALID conv acts like SAME.

  The padding depends only on the (dilated) kernel size, not on the input
  size, which keeps the layer's output aligned across input resolutions.
  """
  effective = [k + (k - 1) * (rate - 1) for k in kernel_size]
  pads = []
  for k in effective:
    total = k - 1
    pads.append([total // 2, total - total // 2])
  return tf.pad(inputs, [[0, 0], pads[0], pads[1], [0, 0]])


def _strides_and_rates(conv_defs, output_stride):
  """Each layer's (stride, dilation rate). Once the stride so far reaches
  output_stride, the later layers' strides become dilation of the
  depthwise convolutions."""
  schedule = []
  current_stride, rate = 1, 1
  for conv_def in conv_defs:
    if output_stride is not None and current_stride == output_stride:
      schedule.append((1, rate))
      rate *= conv_def.stride
    else:
      schedule.append((conv_def.stride, 1))
      current_stride *= conv_def.stride
  return schedule


def _padded(layer, kernel_size, rate=1):
  """`layer` after _fixed_padding for its (dilated) kernel."""
  return lambda net, scope: layer(_fixed_padding(net, kernel_size, rate),
                                  scope=scope)


def _layers(conv_defs, depth, output_stride, use_explicit_padding):
  """The (end point, layer) pairs of `conv_defs` in order: `Conv2d_<i>` for
  a Conv, `Conv2d_<i>_depthwise` and `Conv2d_<i>_pointwise` for a
  DepthSepConv; `depth` maps a conv_def's depth to the layer's channels."""
  layers = []
  schedule = _strides_and_rates(conv_defs, output_stride)
  for i, (conv_def, (stride, rate)) in enumerate(zip(conv_defs, schedule)):
    if isinstance(conv_def, Conv):
      conv = functools.partial(slim.conv2d, num_outputs=depth(conv_def.depth),
                               kernel_size=conv_def.kernel, stride=stride)
      if use_explicit_padding:
        conv = _padded(conv, conv_def.kernel)
      layers.append(('Conv2d_%d' % i, conv))
      continue
    if not isinstance(conv_def, DepthSepConv):
      raise ValueError('Unknown convolution type %r for layer %d' %
                       (type(conv_def).__name__, i))
    depthwise = functools.partial(
        slim.separable_conv2d, num_outputs=None, kernel_size=conv_def.kernel,
        depth_multiplier=1, stride=stride, rate=rate)
    if use_explicit_padding:
      depthwise = _padded(depthwise, conv_def.kernel, rate)
    layers += [('Conv2d_%d_depthwise' % i, depthwise),
               ('Conv2d_%d_pointwise' % i, functools.partial(
                   slim.conv2d, num_outputs=depth(conv_def.depth),
                   kernel_size=[1, 1], stride=1))]
  return layers


def mobilenet_v1_base(inputs, final_endpoint='Conv2d_13_pointwise',
                      min_depth=8, depth_multiplier=1.0, conv_defs=None,
                      output_stride=None, use_explicit_padding=False,
                      scope=None):
  """The MobileNet v1 feature extractor, from the input to `final_endpoint`.

  Args:
    inputs: float Tensor [batch, height, width, channels].
    final_endpoint: the last layer built, one of `Conv2d_0`,
      `Conv2d_<i>_depthwise`, `Conv2d_<i>_pointwise` (i in 1..13).
    min_depth: no layer gets fewer channels than this (when depth_multiplier
      < 1).
    depth_multiplier: float > 0 scaling every layer's channel count;
      channels = max(int(depth * depth_multiplier), min_depth).
    conv_defs: list of `Conv` / `DepthSepConv`; default
      MOBILENETV1_CONV_DEFS.
    output_stride: total input-to-output stride (8, 16 or 32); the later
      layers then use stride 1 and atrous (dilated) depthwise convolutions.
      None means the natural stride of 32.
    use_explicit_padding: pad explicitly and convolve with VALID padding
      instead of SAME (output size independent of how TF splits padding).
    scope: variable scope (default `MobilenetV1`).

  Returns:
    (net, end_points): net is the `final_endpoint` Tensor, [batch,
    height / stride, width / stride, channels]; end_points maps each built
    layer's name to its Tensor.

  Raises:
    ValueError: on an unknown final_endpoint, depth_multiplier <= 0 or an
      output_stride other than 8, 16 or 32.
  """
  if depth_multiplier <= 0:
    raise ValueError('depth_multiplier is not greater than zero.')
  if output_stride is not None and output_stride not in (8, 16, 32):
    raise ValueError('Only allowed output_stride values are 8, 16, 32.')
  conv_defs = conv_defs or MOBILENETV1_CONV_DEFS

  def depth(d):
    return max(int(d * depth_multiplier), min_depth)

  layers = _layers(conv_defs, depth, output_stride, use_explicit_padding)
  with tf.variable_scope(scope, 'MobilenetV1', [inputs]):
    with slim.arg_scope([slim.conv2d, slim.separable_conv2d],
                        padding='VALID' if use_explicit_padding else 'SAME'):
      return inception_utils.build_layers(inputs, layers, final_endpoint)


# research/slim's name in this module, and in inception_v2 and _v3.
_reduced_kernel_size_for_small_input = (
    inception_utils.reduced_kernel_size_for_small_input)


def mobilenet_v1(inputs, num_classes=1000, dropout_keep_prob=0.999,
                 is_training=True, min_depth=8, depth_multiplier=1.0,
                 conv_defs=None, prediction_fn=slim.softmax,
                 spatial_squeeze=True, reuse=None, scope='MobilenetV1',
                 global_pool=False, final_endpoint='Conv2d_13_pointwise',
                 output_stride=None, use_explicit_padding=False):
  """MobileNet v1 classifier.

  Args:
    inputs: float Tensor [batch, height, width, channels], 224x224 for the
      published ImageNet checkpoints.
    num_classes: logits width; 0 or None returns the pooled features
      [batch, 1, 1, channels] (the `AvgPool_1a` / `global_pool` end point).
    dropout_keep_prob: keep probability of the dropout before the logits.
    is_training: whether batch norm and dropout run in training mode.
    min_depth: minimum channel count of any layer.
    depth_multiplier: width multiplier scaling every layer's channels.
    conv_defs: layer list (see `mobilenet_v1_base`).
    prediction_fn: maps logits to the `Predictions` end point.
    spatial_squeeze: squeeze the logits from [batch, 1, 1, num_classes] to
      [batch, num_classes].
    reuse: whether to reuse the variables of `scope`.
    scope: variable scope.
    global_pool: average over the whole feature map (any input size) instead
      of a fixed 7x7 `AvgPool_1a` (which leaves more than 1x1 for inputs
      larger than 224).
    final_endpoint: last layer of the feature extractor.
    output_stride: see `mobilenet_v1_base`.
    use_explicit_padding: see `mobilenet_v1_base`.

  Returns:
    (logits [batch, num_classes], end_points dict name -> Tensor).

  Raises:
    ValueError: if inputs is not rank 4.
  """
  if len(inputs.get_shape().as_list()) != 4:
    raise ValueError('Invalid input tensor rank, expected 4, was: %d' %
                     len(inputs.get_shape().as_list()))
  with tf.variable_scope(scope, 'MobilenetV1', [inputs],
                         reuse=reuse) as var_scope:
    with slim.arg_scope([slim.batch_norm, slim.dropout],
                        is_training=is_training):
      net, end_points = mobilenet_v1_base(
          inputs, scope=var_scope, min_depth=min_depth,
          depth_multiplier=depth_multiplier, conv_defs=conv_defs,
          final_endpoint=final_endpoint, output_stride=output_stride,
          use_explicit_padding=use_explicit_padding)
      with tf.variable_scope('Logits'):
        if global_pool:
          net = tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')
          end_points['global_pool'] = net
        else:
          kernel_size = _reduced_kernel_size_for_small_input(net, [7, 7])
          net = slim.avg_pool2d(net, kernel_size, padding='VALID',
                                scope='AvgPool_1a')
          end_points['AvgPool_1a'] = net
        if not num_classes:
          return net, end_points
        net = slim.dropout(net, keep_prob=dropout_keep_prob, scope='Dropout_1b')
        logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                             normalizer_fn=None, scope='Conv2d_1c_1x1')
        if spatial_squeeze:
          logits = tf.squeeze(logits, [1, 2], name='SpatialSqueeze')
      end_points['Logits'] = logits
      if prediction_fn:
        end_points['Predictions'] = prediction_fn(logits, scope='Predictions')
  return logits, end_points


mobilenet_v1.default_image_size = 224


def wrapped_partial(func, *args, **kwargs):
  """functools.partial(func, ...) with func's name, docstring and
  attributes (default_image_size)."""
  partial_func = functools.partial(func, *args, **kwargs)
  functools.update_wrapper(partial_func, func)
  return partial_func


mobilenet_v1_075 = wrapped_partial(mobilenet_v1, depth_multiplier=0.75)
mobilenet_v1_050 = wrapped_partial(mobilenet_v1, depth_multiplier=0.50)
mobilenet_v1_025 = wrapped_partial(mobilenet_v1, depth_multiplier=0.25)


def mobilenet_v1_arg_scope(is_training=True, weight_decay=0.00004,
                           stddev=0.09, regularize_depthwise=False,
                           batch_norm_decay=0.9997, batch_norm_epsilon=0.001,
                           batch_norm_updates_collections=tf.GraphKeys
                           .UPDATE_OPS,
                           normalizer_fn=slim.batch_norm):
  """Default arg_scope for MobileNet v1.

  Args:
    is_training: batch norm mode; None leaves it to the network's argument.
    weight_decay: L2 regularisation strength of the conv weights.
    stddev: standard deviation of the truncated-normal weight initialiser.
    regularize_depthwise: also apply weight decay to depthwise weights.
    batch_norm_decay: moving-average decay of the batch norm statistics.
    batch_norm_epsilon: added to the variance before dividing.
    batch_norm_updates_collections: where batch norm puts its update ops.
    normalizer_fn: normalisation after each convolution.

  Returns:
    An arg_scope dict for `slim.arg_scope`.
  """
  batch_norm_params = {
      'center': True,
      'scale': True,
      'decay': batch_norm_decay,
      'epsilon': batch_norm_epsilon,
      'updates_collections': batch_norm_updates_collections,
  }
  if is_training is not None:
    batch_norm_params['is_training'] = is_training
  weights_init = tf.truncated_normal_initializer(stddev=stddev)
  regularizer = slim.l2_regularizer(weight_decay)
  depthwise_regularizer = regularizer if regularize_depthwise else None
  with slim.arg_scope([slim.conv2d, slim.separable_conv2d],
                      weights_initializer=weights_init,
                      activation_fn=tf.nn.relu6, normalizer_fn=normalizer_fn):
    with slim.arg_scope([slim.batch_norm], **batch_norm_params):
      with slim.arg_scope([slim.conv2d], weights_regularizer=regularizer):
        with slim.arg_scope([slim.separable_conv2d],
                            weights_regularizer=depthwise_regularizer) as sc:
          return sc
