"""Building blocks shared by MobileNet v2, MobileNet v3 and MobileNet-EdgeTPU.

These networks are a stack of layers described by a `NetworkDef`: plain
convolutions (`conv`), inverted-residual blocks (`block`: a 1x1 expansion,
a depthwise convolution, an optional squeeze-and-excite, a linear 1x1
projection and a residual connection) and, in v3, a pool to 1x1 before the
last convolution. `mobilenet_base` builds such a stack and `mobilenet` adds
the classifier head; mobilenet_v2.py and mobilenet_v3.py hold the layer lists.

Scopes and end points follow the published TF-Slim checkpoints:
  * convolutions are `Conv`, `Conv_1`, ...; blocks are `expanded_conv`,
    `expanded_conv_1`, ..., each with `expand`, `depthwise`,
    `squeeze_excite/Conv[_1]` and `project` inside;
  * end point `layer_<i>` (1-based) is the output of the i-th layer, and
    blocks add `layer_<i>/expansion_output`, `layer_<i>/depthwise_output`
    (where those layers exist) and `layer_<i>/output`;
  * the head adds `global_pool`, `Logits` and `Predictions`.
"""

import collections

import tensorflow.compat.v1 as tf
import tf_slim as slim

# A plain convolution. activation_fn None means the network's default;
# batch_norm False gives biases and no normalisation instead.
Conv = collections.namedtuple(
    'Conv', ['num_outputs', 'kernel_size', 'stride', 'activation_fn',
             'batch_norm'])

# An inverted-residual block (MobileNet v2 "expanded conv"). The expansion
# has make_divisible(input_channels * expansion) channels; `fused` replaces
# the 1x1 expansion + depthwise pair by one full kernel_size convolution
# (MobileNet-EdgeTPU); `squeeze_excite` adds squeeze-and-excite after the
# depthwise convolution (MobileNet v3).
Block = collections.namedtuple(
    'Block', ['num_outputs', 'expansion', 'kernel_size', 'stride',
              'activation_fn', 'squeeze_excite', 'fused', 'residual'])

# Average pooling of the whole feature map to 1x1 (MobileNet v3 head).
ReduceTo1x1 = collections.namedtuple('ReduceTo1x1', [])

# A network: its layers and the activation of layers that name none.
NetworkDef = collections.namedtuple('NetworkDef',
                                    ['layers', 'activation_fn'])


def conv(num_outputs, kernel_size=3, stride=1, activation_fn=None,
         batch_norm=True):
  """A `Conv` layer; kernel_size is an int (square) or [height, width]."""
  return Conv(num_outputs, _pair(kernel_size), stride, activation_fn,
              batch_norm)


def block(expansion, num_outputs, kernel_size=3, stride=1,
          activation_fn=None, squeeze_excite=False, fused=False,
          residual=True):
  """A `Block` layer with expansion factor `expansion` (float)."""
  return Block(num_outputs, expansion, _pair(kernel_size), stride,
               activation_fn, squeeze_excite, fused, residual)


def _pair(value):
  if isinstance(value, int):
    return [value, value]
  return list(value)


def make_divisible(value, divisor=8, min_value=None):
  """`value` rounded to the nearest multiple of `divisor`, never below
  `min_value` (default `divisor`) and never more than 10% below `value`.

  This is how every channel count of MobileNet v2/v3 is derived from the
  depth multiplier and expansion factors, e.g. 32 * 0.35 = 11.2 -> 16.
  """
  if min_value is None:
    min_value = divisor
  rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
  if rounded < 0.9 * value:
    rounded += divisor
  return int(rounded)


def hard_sigmoid(x, name='hard_sigmoid'):
  """relu6(x + 3) / 6: a piecewise-linear sigmoid in [0, 1]."""
  with tf.name_scope(name):
    return tf.nn.relu6(x + 3.) * (1. / 6.)


def hard_swish(x, name='hard_swish'):
  """x * hard_sigmoid(x), the MobileNet v3 activation."""
  with tf.name_scope(name):
    return x * tf.nn.relu6(x + 3.) * (1. / 6.)


def fixed_padding(inputs, kernel_size, rate=1):
  """Pads [batch, height, width, channels] so a VALID conv with this
  (dilated) kernel gives the SAME-padding output size, independently of the
  input size."""
  pads = []
  for k in kernel_size:
    total = k + (k - 1) * (rate - 1) - 1
    pads.append([total // 2, total - total // 2])
  return tf.pad(inputs, [[0, 0], pads[0], pads[1], [0, 0]])


def squeeze_excite(net, squeeze_factor=4, divisible_by=8,
                   inner_activation_fn=tf.nn.relu, gating_fn=hard_sigmoid):
  """Squeeze-and-excite: rescales each channel of `net` by a gate in [0, 1]
  computed from the spatial mean of all channels.

  Args:
    net: Tensor [batch, height, width, channels].
    squeeze_factor: the bottleneck has channels / squeeze_factor channels
      (rounded by make_divisible).
    divisible_by: rounding of the bottleneck width.
    inner_activation_fn: activation of the bottleneck.
    gating_fn: maps the excitation to the per-channel gate.

  Returns:
    Tensor shaped like `net`.
  """
  channels = net.get_shape().as_list()[3]
  with tf.variable_scope('squeeze_excite'):
    pooled = tf.reduce_mean(net, [1, 2], keepdims=True)
    squeeze = slim.conv2d(pooled, make_divisible(channels / squeeze_factor,
                                                 divisible_by),
                          [1, 1], activation_fn=inner_activation_fn,
                          normalizer_fn=None, scope='Conv')
    gate = slim.conv2d(squeeze, channels, [1, 1], activation_fn=gating_fn,
                       normalizer_fn=None, scope='Conv_1')
    return net * gate


def expanded_conv(net, spec, num_outputs, rate=1, stride=None,
                  use_explicit_padding=False, scope=None):
  """One inverted-residual block.

  Args:
    net: Tensor [batch, height, width, in_channels].
    spec: the `Block`; its num_outputs and stride are overridden by the
      arguments below.
    num_outputs: output channels (spec.num_outputs after the depth
      multiplier).
    rate: dilation of the spatial convolution.
    stride: stride of the spatial convolution (default spec.stride).
    use_explicit_padding: pad explicitly and convolve with VALID padding.
    scope: variable scope of the block.

  Returns:
    (net, outputs): net is [batch, height / stride, width / stride,
    num_outputs]; outputs maps 'expansion_output', 'depthwise_output'
    (where those layers exist) and 'output' to Tensors.

  Raises:
    ValueError: for a fused block without expansion but with a stride, which
      would have no spatial convolution to apply the stride.
  """
  stride = spec.stride if stride is None else stride
  outputs = {}
  with tf.variable_scope(scope, 'expanded_conv', [net]):
    inputs = net
    in_channels = net.get_shape().as_list()[3]
    if spec.expansion == 1:
      inner_size = in_channels
    else:
      inner_size = make_divisible(in_channels * spec.expansion)
    conv_args = {}
    if spec.activation_fn is not None:
      conv_args['activation_fn'] = spec.activation_fn
    with slim.arg_scope([slim.conv2d, slim.separable_conv2d], **conv_args):
      if inner_size > in_channels:
        if spec.fused:
          if use_explicit_padding:
            net = fixed_padding(net, spec.kernel_size, rate)
          net = slim.conv2d(net, inner_size, spec.kernel_size, stride=stride,
                            rate=rate, scope='expand')
        else:
          net = slim.conv2d(net, inner_size, [1, 1], scope='expand')
        net = outputs['expansion_output'] = tf.identity(
            net, name='expansion_output')
      elif spec.fused and stride != 1:
        raise ValueError('A fused block without expansion cannot have '
                         'stride %d' % stride)

      if not spec.fused:
        if use_explicit_padding:
          net = fixed_padding(net, spec.kernel_size, rate)
        net = slim.separable_conv2d(net, None, spec.kernel_size,
                                    depth_multiplier=1, stride=stride,
                                    rate=rate, scope='depthwise')
        net = outputs['depthwise_output'] = tf.identity(
            net, name='depthwise_output')

      if spec.squeeze_excite:
        net = squeeze_excite(net)

      # The projection is linear: a non-linearity on the narrow output
      # would destroy information (the "linear bottleneck").
      net = slim.conv2d(net, num_outputs, [1, 1], activation_fn=None,
                        scope='project')
    if spec.residual and stride == 1 and num_outputs == in_channels:
      net += inputs
    net = outputs['output'] = tf.identity(net, name='output')
  return net, outputs


def _layer_depth(num_outputs, depth_multiplier, min_depth, divisible_by,
                 keep_depth):
  depth = make_divisible(num_outputs * depth_multiplier, divisible_by,
                         min_depth)
  if keep_depth:
    depth = max(depth, num_outputs)
  return depth


def mobilenet_base(images, network_def, depth_multiplier=1.0, min_depth=8,
                   divisible_by=8, finegrain_classification_mode=False,
                   final_endpoint=None, output_stride=None,
                   use_explicit_padding=False, scope=None, reuse=None):
  """Builds the layers of `network_def` (no classifier head).

  Args:
    images: float Tensor [batch, height, width, channels].
    network_def: a `NetworkDef`.
    depth_multiplier: float > 0 scaling the channels of every layer, rounded
      by make_divisible(depth * depth_multiplier, divisible_by, min_depth).
    min_depth: minimum channels of a layer.
    divisible_by: channel counts are multiples of this.
    finegrain_classification_mode: when depth_multiplier < 1, keep the last
      layer at its full width (better accuracy for thin networks).
    final_endpoint: `layer_<i>` to stop after; None builds all layers.
    output_stride: total stride of the output (a power of 2 that divides the
      network's stride); later strides become dilation. None: no limit.
    use_explicit_padding: pad explicitly and convolve with VALID padding.
    scope: variable scope (a name or a VariableScope).
    reuse: whether to reuse the variables of `scope`.

  Returns:
    (net, end_points): net is the last built layer's Tensor
    [batch, height', width', channels'].

  Raises:
    ValueError: for depth_multiplier <= 0, an unknown final_endpoint or an
      output_stride the network cannot reach.
  """
  if depth_multiplier <= 0:
    raise ValueError('depth_multiplier is not greater than zero.')
  layers = network_def.layers
  names = ['layer_%d' % (i + 1) for i in range(len(layers))]
  if final_endpoint is not None and final_endpoint not in names:
    raise ValueError('Unknown final endpoint %r; valid: layer_1..layer_%d' %
                     (final_endpoint, len(layers)))
  padding = 'VALID' if use_explicit_padding else 'SAME'
  end_points = {}
  counts = collections.Counter()
  current_stride, rate = 1, 1
  # Re-entering the variable scope of `mobilenet` must not open a second
  # name scope: ops are named `MobilenetV2/expanded_conv/output`, as in the
  # published graphs, not `MobilenetV2/MobilenetV2/...`.
  with tf.variable_scope(scope, 'Mobilenet', [images],
                         reuse=reuse) as var_scope, \
      tf.name_scope(var_scope.original_name_scope):
    with slim.arg_scope([slim.conv2d, slim.separable_conv2d],
                        normalizer_fn=slim.batch_norm,
                        activation_fn=network_def.activation_fn,
                        padding=padding), \
        slim.arg_scope([slim.batch_norm], center=True, scale=True):
      net = images
      for i, layer in enumerate(layers):
        end_point = names[i]
        stride = getattr(layer, 'stride', 1)
        if output_stride is not None and current_stride == output_stride:
          layer_stride, layer_rate = 1, rate
          rate *= stride
        else:
          layer_stride, layer_rate = stride, 1
          current_stride *= stride
        keep_depth = (finegrain_classification_mode and
                      i == len(layers) - 1)

        if isinstance(layer, Conv):
          kind = 'Conv'
          layer_scope = _numbered(kind, counts[kind])
          if use_explicit_padding and layer.kernel_size != [1, 1]:
            net = fixed_padding(net, layer.kernel_size, layer_rate)
          args = {}
          if layer.activation_fn is not None:
            args['activation_fn'] = layer.activation_fn
          if not layer.batch_norm:
            args['normalizer_fn'] = None
          net = slim.conv2d(
              net, _layer_depth(layer.num_outputs, depth_multiplier,
                                min_depth, divisible_by, keep_depth),
              layer.kernel_size, stride=layer_stride, rate=layer_rate,
              scope=layer_scope, **args)
        elif isinstance(layer, Block):
          kind = 'expanded_conv'
          layer_scope = _numbered(kind, counts[kind])
          net, outputs = expanded_conv(
              net, layer,
              _layer_depth(layer.num_outputs, depth_multiplier, min_depth,
                           divisible_by, keep_depth),
              rate=layer_rate, stride=layer_stride,
              use_explicit_padding=use_explicit_padding, scope=layer_scope)
          for name, tensor in outputs.items():
            end_points[end_point + '/' + name] = tensor
        elif isinstance(layer, ReduceTo1x1):
          kind = 'AvgPool'
          net = global_pool(net, name=_numbered(kind, counts[kind]))
        else:
          raise ValueError('Unknown layer type %r' % type(layer).__name__)
        counts[kind] += 1
        end_points[end_point] = net
        if end_point == final_endpoint:
          break
  if output_stride is not None and current_stride != output_stride:
    raise ValueError('output_stride %d is not reachable (stride %d)' %
                     (output_stride, current_stride))
  return net, end_points


def _numbered(name, index):
  return name if index == 0 else '%s_%d' % (name, index)


def global_pool(net, name='global_pool'):
  """Averages [batch, height, width, channels] to [batch, 1, 1, channels].

  A static-size average pool where the spatial size is known (as in the
  published graphs), a reduce_mean otherwise.
  """
  shape = net.get_shape().as_list()
  if shape[1] is None or shape[2] is None:
    return tf.reduce_mean(net, [1, 2], keepdims=True, name=name)
  return slim.avg_pool2d(net, shape[1:3], stride=1, padding='VALID',
                         scope=name)


def mobilenet(images, network_def, num_classes=1001, is_training=None,
              dropout_keep_prob=None, prediction_fn=slim.softmax,
              reuse=None, scope='Mobilenet', base_only=False,
              **base_options):
  """A MobileNet classifier: `mobilenet_base`, global pool, 1x1 conv logits.

  Args:
    images: float Tensor [batch, height, width, channels].
    network_def: a `NetworkDef`.
    num_classes: logits width; 0 or None returns the pooled features
      [batch, 1, 1, channels] (the `global_pool` end point).
    is_training: batch norm and dropout mode; None leaves them to the
      enclosing arg_scope (see `training_scope`).
    dropout_keep_prob: keep probability of the dropout before the logits;
      None leaves it to the enclosing arg_scope (slim's default 0.5 without
      one; `training_scope` sets 0.8).
    prediction_fn: maps logits to the `Predictions` end point.
    reuse: whether to reuse the variables of `scope`.
    scope: variable scope.
    base_only: return the last layer's features, without pooling.
    **base_options: passed to `mobilenet_base` (depth_multiplier, min_depth,
      divisible_by, finegrain_classification_mode, final_endpoint,
      output_stride, use_explicit_padding).

  Returns:
    (logits [batch, num_classes], end_points dict name -> Tensor).

  Raises:
    ValueError: if images is not rank 4.
  """
  rank = images.get_shape().ndims
  if rank != 4:
    raise ValueError('Expected images of rank 4, got rank %s' % rank)
  mode = {} if is_training is None else {'is_training': is_training}
  with tf.variable_scope(scope, 'Mobilenet', [images],
                         reuse=reuse) as var_scope, \
      slim.arg_scope([slim.batch_norm, slim.dropout], **mode):
    net, end_points = mobilenet_base(images, network_def, scope=var_scope,
                                     **base_options)
    if base_only:
      return net, end_points
    net = tf.identity(net, name='embedding')
    with tf.variable_scope('Logits'):
      net = end_points['global_pool'] = global_pool(net)
      if not num_classes:
        return net, end_points
      dropout_args = {}
      if dropout_keep_prob is not None:
        dropout_args['keep_prob'] = dropout_keep_prob
      net = slim.dropout(net, scope='Dropout', **dropout_args)
      logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                           normalizer_fn=None,
                           biases_initializer=tf.zeros_initializer(),
                           scope='Conv2d_1c_1x1')
      logits = tf.squeeze(logits, [1, 2])
      logits = tf.identity(logits, name='output')
    end_points['Logits'] = logits
    if prediction_fn:
      end_points['Predictions'] = prediction_fn(logits, scope='Predictions')
  return logits, end_points


def training_scope(is_training=True, weight_decay=0.00004, stddev=0.09,
                   dropout_keep_prob=0.8, bn_decay=0.997):
  """The arg_scope MobileNet v2/v3 were trained with.

  Args:
    is_training: batch norm and dropout mode (None leaves them unset).
    weight_decay: L2 strength on the regular (not depthwise) conv weights.
    stddev: standard deviation of the truncated-normal initialiser; a
      negative value selects Xavier initialisation.
    dropout_keep_prob: keep probability of the dropout before the logits.
    bn_decay: moving-average decay of the batch norm statistics.

  Returns:
    An arg_scope dict for `slim.arg_scope`.
  """
  if stddev < 0:
    initializer = slim.initializers.xavier_initializer()
  else:
    initializer = tf.truncated_normal_initializer(stddev=stddev)
  batch_norm_args = {'decay': bn_decay, 'center': True, 'scale': True}
  dropout_args = {'keep_prob': dropout_keep_prob}
  if is_training is not None:
    batch_norm_args['is_training'] = is_training
    dropout_args['is_training'] = is_training
  with slim.arg_scope(
      [slim.conv2d, slim.fully_connected, slim.separable_conv2d],
      weights_initializer=initializer, normalizer_fn=slim.batch_norm), \
      slim.arg_scope([slim.batch_norm], **batch_norm_args), \
      slim.arg_scope([slim.dropout], **dropout_args), \
      slim.arg_scope([slim.conv2d],
                     weights_regularizer=slim.l2_regularizer(weight_decay)), \
      slim.arg_scope([slim.separable_conv2d],
                     weights_regularizer=None) as scope:
    return scope
