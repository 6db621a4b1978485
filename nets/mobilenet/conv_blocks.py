"""research/slim's MobileNet blocks (nets/mobilenet/conv_blocks.py).

`expanded_conv` is the inverted residual of MobileNet v2/v3: a 1x1
expansion (`expand`), a depthwise convolution (`depthwise`), an optional
transform such as squeeze-and-excite, a linear 1x1 projection (`project`)
and a residual connection; its ops `expansion_output`, `depthwise_output`
and `output` become the `layer_<i>/...` end points in mobilenet_base.
Variable names are the published checkpoints': `expanded_conv_3/expand/
weights`, `.../squeeze_excite/Conv/weights`, ...
"""

import contextlib
import functools

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets.mobilenet import mobilenet as lib

_fixed_padding = lib._fixed_padding  # pylint: disable=protected-access
_make_divisible = lib._make_divisible  # pylint: disable=protected-access


def _split_divisible(num, num_ways, divisible_by=8):
  """num split into num_ways parts, each a multiple of divisible_by, as
  even as possible (the earlier parts are the smaller)."""
  assert num % divisible_by == 0
  assert num / num_ways >= divisible_by
  base = num // num_ways // divisible_by * divisible_by
  result = []
  accumulated = 0
  for i in range(num_ways):
    part = base
    while accumulated + part < num * (i + 1) / num_ways:
      part += divisible_by
    result.append(part)
    accumulated += part
  assert accumulated == num
  return result


@contextlib.contextmanager
def _v1_compatible_scope_naming(scope):
  """Yields the prefix of the depthwise / pointwise scopes: '' inside a new
  `separable[_N]` scope when scope is None, else '<scope>_' (MobileNet v1
  checkpoints number `Conv2d_1_depthwise`, `Conv2d_1_pointwise`)."""
  if scope is None:
    with tf.variable_scope(None, default_name='separable') as var_scope, \
        tf.name_scope(var_scope.original_name_scope):
      yield ''
  else:
    yield scope + '_'


@slim.add_arg_scope
def split_separable_conv2d(input_tensor, num_outputs, scope=None,
                           normalizer_fn=None, stride=1, rate=1,
                           endpoints=None, use_explicit_padding=False):
  """A MobileNet v1 separable conv: 3x3 depthwise and 1x1 pointwise, each
  with normalizer and activation (slim.separable_conv2d has them once).

  Args:
    input_tensor: Tensor [batch, height, width, channels].
    num_outputs: channels of the pointwise conv.
    scope: prefix of the scopes `<scope>_depthwise`, `<scope>_pointwise`.
    normalizer_fn: of both convs.
    stride, rate: of the depthwise conv.
    endpoints: optional dict to add both outputs to, by scope.
    use_explicit_padding: pad explicitly and convolve with VALID padding.

  Returns:
    Tensor [batch, height / stride, width / stride, num_outputs].
  """
  with _v1_compatible_scope_naming(scope) as prefix:
    endpoints = endpoints if endpoints is not None else {}
    kernel_size = [3, 3]
    padding = 'SAME'
    if use_explicit_padding:
      padding = 'VALID'
      input_tensor = _fixed_padding(input_tensor, kernel_size, rate)
    net = endpoints[prefix + 'depthwise'] = slim.separable_conv2d(
        input_tensor, None, kernel_size, depth_multiplier=1, stride=stride,
        rate=rate, normalizer_fn=normalizer_fn, padding=padding,
        scope=prefix + 'depthwise')
    net = endpoints[prefix + 'pointwise'] = slim.conv2d(
        net, num_outputs, [1, 1], stride=1, normalizer_fn=normalizer_fn,
        scope=prefix + 'pointwise')
  return net


def expand_input_by_factor(n, divisible_by=8):
  """An expansion_size: make_divisible(num_inputs * n, divisible_by)."""
  return lambda num_inputs, **_: _make_divisible(num_inputs * n, divisible_by)


def split_conv(input_tensor, num_outputs, num_ways, scope, divisible_by=8,
               **kwargs):
  """A 1x1 conv split into num_ways groups (input part i feeds only output
  part i), scopes `<scope>_part_<i>`; a plain 1x1 conv (scope `scope`) for
  num_ways 1 or parts narrower than divisible_by.

  Args:
    input_tensor: Tensor [batch, height, width, channels].
    num_outputs: output channels.
    num_ways: number of groups.
    scope: variable scope (prefix).
    divisible_by: every part's width is a multiple of this.
    **kwargs: for slim.conv2d.

  Returns:
    Tensor [batch, height, width, num_outputs].
  """
  channels = input_tensor.get_shape().as_list()[3]
  if num_ways == 1 or min(channels // num_ways,
                          num_outputs // num_ways) < divisible_by:
    return slim.conv2d(input_tensor, num_outputs, [1, 1], scope=scope,
                       **kwargs)
  outputs = []
  input_splits = _split_divisible(channels, num_ways, divisible_by)
  output_splits = _split_divisible(num_outputs, num_ways, divisible_by)
  inputs = tf.split(input_tensor, input_splits, axis=3, name='split_' + scope)
  for i, (part, width) in enumerate(zip(inputs, output_splits)):
    part_scope = '%s_part_%d' % (scope, i)
    part = slim.conv2d(part, width, [1, 1], scope=part_scope, **kwargs)
    outputs.append(tf.identity(part, part_scope + '_output'))
  return tf.concat(outputs, 3, name=part_scope + '_concat')


def _call_split(fn, num_ways, divisible_by):
  """fn, with split_conv's grouping arguments bound if it is split_conv."""
  if fn is split_conv:
    return functools.partial(split_conv, num_ways=num_ways,
                             divisible_by=divisible_by, stride=1)
  return fn


def _depthwise_padding(depthwise_location, use_explicit_padding, padding):
  """expanded_conv's depthwise padding ('VALID' after explicit padding).

  Raises:
    TypeError: for an unknown depthwise_location, or use_explicit_padding
      with a padding other than 'SAME'.
  """
  if depthwise_location not in (None, 'input', 'output', 'expansion'):
    raise TypeError('%r is unknown value for depthwise_location' %
                    depthwise_location)
  if not use_explicit_padding:
    return padding
  if padding != 'SAME':
    raise TypeError('`use_explicit_padding` should only be used with '
                    '"SAME" padding.')
  return 'VALID'


@slim.add_arg_scope
def expanded_conv(input_tensor, num_outputs,
                  expansion_size=expand_input_by_factor(6), stride=1, rate=1,
                  kernel_size=(3, 3), residual=True, normalizer_fn=None,
                  split_projection=1, split_expansion=1, split_divisible_by=8,
                  expansion_transform=None, depthwise_location='expansion',
                  depthwise_channel_multiplier=1, endpoints=None,
                  use_explicit_padding=False, padding='SAME',
                  inner_activation_fn=None, depthwise_activation_fn=None,
                  project_activation_fn=tf.identity,
                  depthwise_fn=slim.separable_conv2d, expansion_fn=split_conv,
                  projection_fn=split_conv, scope=None):
  """The inverted residual: expansion (1x1), depthwise, projection (1x1).

  Args:
    input_tensor: Tensor [batch, height, width, channels].
    num_outputs: channels of the projection (the block's output).
    expansion_size: expansion width, or a callable of num_inputs (and
      other keywords) giving it; no expansion layer unless it is wider than
      the input.
    stride, rate, kernel_size: of the depthwise conv.
    residual: add the input when shapes allow (stride 1, same channels), or
      a callable(input_tensor=, output_tensor=) -> output.
    normalizer_fn: of all convs.
    split_projection, split_expansion: split_conv groups of the 1x1 convs.
    split_divisible_by: their width granularity.
    expansion_transform: optional callable(expansion_tensor=, input_tensor=)
      applied after the depthwise conv (e.g. squeeze-and-excite).
    depthwise_location: 'expansion' (after the expansion), 'input',
      'output' (both without activation) or None (no depthwise conv).
    depthwise_channel_multiplier: depthwise outputs per input channel.
    endpoints: optional dict to add expansion_output, depthwise_output and
      projection_output to.
    use_explicit_padding: pad explicitly and convolve with VALID padding.
    padding: of the depthwise conv otherwise.
    inner_activation_fn: activation of the expansion and depthwise convs
      (None: the arg_scope's).
    depthwise_activation_fn: of the depthwise conv, over the former.
    project_activation_fn: of the projection (linear by default).
    depthwise_fn, expansion_fn, projection_fn: the three layers' functions
      (custom expansion/projection functions ignore the split_* arguments).
    scope: variable scope (default `expanded_conv[_N]`).

  Returns:
    Tensor [batch, height / stride, width / stride, num_outputs].

  Raises:
    TypeError: for an unknown depthwise_location, or use_explicit_padding
      with a padding other than 'SAME'.
  """
  conv_defaults, depthwise_defaults = {}, {}
  if inner_activation_fn is not None:
    conv_defaults['activation_fn'] = inner_activation_fn
    depthwise_defaults['activation_fn'] = inner_activation_fn
  if depthwise_activation_fn is not None:
    depthwise_defaults['activation_fn'] = depthwise_activation_fn
  with tf.variable_scope(scope, default_name='expanded_conv') as var_scope, \
      tf.name_scope(var_scope.original_name_scope), \
      slim.arg_scope((slim.conv2d,), **conv_defaults), \
      slim.arg_scope((slim.separable_conv2d,), **depthwise_defaults):
    num_inputs = input_tensor.get_shape().as_list()[3]
    padding = _depthwise_padding(depthwise_location, use_explicit_padding,
                                 padding)
    endpoints = endpoints if endpoints is not None else {}

    def depthwise(net, **kwargs):
      if use_explicit_padding:
        net = _fixed_padding(net, kernel_size, rate)
      net = depthwise_fn(
          net, num_outputs=None, kernel_size=kernel_size,
          depth_multiplier=depthwise_channel_multiplier, stride=stride,
          rate=rate, normalizer_fn=normalizer_fn, padding=padding,
          scope='depthwise', **kwargs)
      net = endpoints['depthwise_output'] = tf.identity(
          net, name='depthwise_output')
      return net

    input_tensor = tf.identity(input_tensor, 'input')
    net = input_tensor
    if depthwise_location == 'input':
      net = depthwise(net, activation_fn=None)
    if callable(expansion_size):
      inner_size = expansion_size(num_inputs=num_inputs)
    else:
      inner_size = expansion_size
    if inner_size > net.shape[3]:
      net = _call_split(expansion_fn, split_expansion, split_divisible_by)(
          net, inner_size, scope='expand', normalizer_fn=normalizer_fn)
      net = endpoints['expansion_output'] = tf.identity(
          net, 'expansion_output')
    if depthwise_location == 'expansion':
      net = depthwise(net)
    if expansion_transform:
      net = expansion_transform(expansion_tensor=net,
                                input_tensor=input_tensor)
    # The projection is linear by default: a non-linearity on the narrow
    # output would lose information (the "linear bottleneck").
    net = endpoints['projection_output'] = _call_split(
        projection_fn, split_projection, split_divisible_by)(
            net, num_outputs, scope='project', normalizer_fn=normalizer_fn,
            activation_fn=project_activation_fn)
    if depthwise_location == 'output':
      net = depthwise(net, activation_fn=None)
    if callable(residual):
      net = residual(input_tensor=input_tensor, output_tensor=net)
    elif (residual and stride == 1 and  # Also skips unknown spatial sizes.
          net.get_shape().as_list()[3] == num_inputs):
      net += input_tensor
    return tf.identity(net, name='output')


@slim.add_arg_scope
def squeeze_excite(input_tensor, divisible_by=8, squeeze_factor=3,
                   inner_activation_fn=tf.nn.relu, gating_fn=tf.sigmoid,
                   squeeze_input_tensor=None, pool=None):
  """Squeeze-and-excite (scope `squeeze_excite`, convs `Conv`, `Conv_1`).

  Args:
    input_tensor: Tensor [batch, height, width, channels] to gate.
    divisible_by: granularity of the bottleneck width.
    squeeze_factor: bottleneck width = channels / squeeze_factor (rounded).
    inner_activation_fn: of the bottleneck conv.
    gating_fn: of the excitation conv (gives the per-channel gates).
    squeeze_input_tensor: compute the gates from this Tensor instead.
    pool: average-pool with this window and stride (then resize the gates
      bilinearly) rather than over the whole map.

  Returns:
    input_tensor * gates, shaped like input_tensor.
  """
  with tf.variable_scope('squeeze_excite'):
    if squeeze_input_tensor is None:
      squeeze_input_tensor = input_tensor
    input_size = input_tensor.shape.as_list()[1:3]
    pool_height, pool_width = squeeze_input_tensor.shape.as_list()[1:3]
    stride = 1
    if pool is not None and pool_height >= pool:
      pool_height, pool_width, stride = pool, pool, pool
    squeeze_channels = _make_divisible(
        squeeze_input_tensor.shape.as_list()[3] / squeeze_factor,
        divisible_by)
    if pool is None:
      pooled = tf.reduce_mean(squeeze_input_tensor, axis=[1, 2],
                              keepdims=True)
    else:
      pooled = tf.nn.avg_pool2d(
          squeeze_input_tensor, (1, pool_height, pool_width, 1),
          strides=(1, stride, stride, 1), padding='VALID')
    squeeze = slim.conv2d(pooled, kernel_size=(1, 1),
                          num_outputs=squeeze_channels, normalizer_fn=None,
                          activation_fn=inner_activation_fn)
    excite = slim.conv2d(squeeze, num_outputs=input_tensor.shape.as_list()[3],
                         kernel_size=[1, 1], normalizer_fn=None,
                         activation_fn=gating_fn)
    if pool is not None:
      # Bilinear with align_corners: the resize TPUs have gradients for.
      excite = tf.image.resize_images(excite, input_size, align_corners=True)
    return input_tensor * excite
