"""research/slim's generic MobileNet builder (nets/mobilenet/mobilenet.py).

A network is `conv_defs`, a dict:
  * 'spec': a list of `op(fn, **params)`; layer i (end point `layer_<i+1>`)
    is fn(net, **params) after `multiplier_func` scaled params (by default
    `depth_multiplier` on 'num_outputs');
  * 'defaults' and 'overrides': {tuple of functions: kwargs}, applied as
    slim.arg_scope around the whole network (overrides last).
`mobilenet_base` builds the spec, `mobilenet` adds the classifier head
(`Logits/Conv2d_1c_1x1`). By default the network is built in inference mode;
`training_scope(is_training=True)` (or is_training=True) builds it for
training.

This is the one builder of MobileNet v2, v3 and EdgeTPU: the model
registry's entries are mobilenet_v2.py's and mobilenet_v3.py's functions,
which build their conv_defs here.

End points: `layer_<i>` for every layer, and `layer_<i>/<op>` for every op
named `...output` directly in layer i's scope (the blocks' expansion_output,
depthwise_output and output), then `global_pool`, `Logits`, `Predictions`.
"""

import collections
import contextlib
import copy
import inspect
import os

import tensorflow.compat.v1 as tf
import tf_slim as slim


def _make_divisible(v, divisor=8, min_value=None):
  """`v` rounded to the nearest multiple of `divisor`, never below
  `min_value` (default `divisor`) and never more than 10% below `v`
  (research/slim's name and arguments).

  Every channel count of MobileNet v2/v3 comes from this, e.g. a 0.35 depth
  multiplier makes 32 * 0.35 = 11.2 channels 16 (8 would lose over 10%).
  """
  if min_value is None:
    min_value = divisor
  rounded = max(min_value, int(v + divisor / 2) // divisor * divisor)
  if rounded < 0.9 * v:
    rounded += divisor
  return int(rounded)


def _fixed_padding(inputs, kernel_size, rate=1):
  """Pads [batch, h, w, c] so that a VALID conv with this (dilated) kernel
  gives the SAME-padding output size, whatever the input size."""
  if isinstance(kernel_size, int):
    kernel_size = [kernel_size, kernel_size]
  pads = []
  for size in kernel_size:
    total = size + (size - 1) * (rate - 1) - 1
    pads.append([total // 2, total - total // 2])
  return tf.pad(inputs, [[0, 0], pads[0], pads[1], [0, 0]])


@slim.add_arg_scope
def apply_activation(x, name=None, activation_fn=None):
  """activation_fn(x), or x when it is None (settable by arg_scope)."""
  return activation_fn(x, name=name) if activation_fn else x


@contextlib.contextmanager
def _set_arg_scope_defaults(defaults):
  """slim.arg_scope(functions, **kwargs) for each pair of `defaults` (a dict
  or a list of pairs), the later pairs innermost."""
  items = defaults.items() if hasattr(defaults, 'items') else defaults
  with contextlib.ExitStack() as stack:
    for functions, kwargs in items:
      stack.enter_context(slim.arg_scope(functions, **kwargs))
    yield


@slim.add_arg_scope
def depth_multiplier(output_params, multiplier, divisible_by=8, min_depth=8,
                     **unused_kwargs):
  """The default multiplier_func: scales output_params['num_outputs'] (if
  present) to make_divisible(num_outputs * multiplier, divisible_by,
  min_depth), in place. divisible_by and min_depth can be set with
  slim.arg_scope((depth_multiplier,), ...)."""
  if 'num_outputs' not in output_params:
    return
  output_params['num_outputs'] = _make_divisible(
      output_params['num_outputs'] * multiplier, divisible_by, min_depth)


_Op = collections.namedtuple('Op', ['op', 'params', 'multiplier_func'])


def op(opfunc, multiplier_func=depth_multiplier, **params):
  """One layer of a conv_defs spec: opfunc(net, **params).

  multiplier_func(params, multiplier) adapts a copy of params to the depth
  multiplier before each build (research/slim also accepts it as
  `multiplier_transform`).
  """
  multiplier = params.pop('multiplier_transform', multiplier_func)
  return _Op(opfunc, params=params, multiplier_func=multiplier)


class NoOpScope(object):
  """A context manager that does nothing (entering it gives None)."""

  def __enter__(self):
    return None

  def __exit__(self, exc_type, exc_value, traceback):
    return False


def safe_arg_scope(funcs, **kwargs):
  """slim.arg_scope(funcs, **kwargs) without the None-valued kwargs, so None
  means "leave as set elsewhere"; a NoOpScope when none is left."""
  kwargs = {name: value for name, value in kwargs.items() if value is not None}
  if kwargs:
    return slim.arg_scope(funcs, **kwargs)
  return NoOpScope()


@contextlib.contextmanager
def _scope_all(scope, default_scope=None):
  """Variable scope `scope`, with ops named in its first name scope (not
  `Scope_1/...` when the scope is re-entered)."""
  with tf.variable_scope(scope, default_name=default_scope) as var_scope, \
      tf.name_scope(var_scope.original_name_scope):
    yield var_scope


def _check_output_stride(output_stride):
  if output_stride is not None and (
      output_stride == 0 or (output_stride > 1 and output_stride % 2)):
    raise ValueError('Output stride must be None, 1 or a multiple of 2.')


def _strided_params(opdef, multiplier, strides, output_stride):
  """The layer's params, with the stride turned into dilation once the
  running stride reaches output_stride. strides = [stride so far, rate] is
  updated. Returns (params, the layer's rate)."""
  params = dict(opdef.params)
  opdef.multiplier_func(params, multiplier)
  stride = params.get('stride', 1)
  if output_stride is not None and strides[0] == output_stride:
    layer_stride, layer_rate = 1, strides[1]
    strides[1] *= stride
  else:
    layer_stride, layer_rate = stride, 1
    strides[0] *= stride
  params['stride'] = layer_stride
  kernel_size = params.get('kernel_size', [])
  kernel_size = ([kernel_size] * 2 if isinstance(kernel_size, int)
                 else list(kernel_size))
  if layer_rate > 1 and kernel_size != [1, 1]:  # A 1x1 needs no dilation.
    params['rate'] = layer_rate
  return params, layer_rate


def _check_final_endpoint(final_endpoint, num_layers):
  """research/slim builds every layer for a name it does not know."""
  names = ['layer_%d' % (i + 1) for i in range(num_layers)]
  if final_endpoint is not None and final_endpoint not in names:
    raise ValueError('Unknown final_endpoint %r; valid: layer_1 to layer_%d'
                     % (final_endpoint, num_layers))


def check_no_generic_multiplier(kwargs):
  """The v2/v3 networks take depth_multiplier, not mobilenet's multiplier.

  Raises:
    ValueError: if kwargs has 'multiplier'.
  """
  if 'multiplier' in kwargs:
    raise ValueError('mobilenetv2 doesn\'t support generic '
                     'multiplier parameter use "depth_multiplier" instead.')


@slim.add_arg_scope
def mobilenet_base(inputs, conv_defs, multiplier=1.0, final_endpoint=None,
                   output_stride=None, use_explicit_padding=False, scope=None,
                   is_training=False):
  """Builds conv_defs['spec'] on inputs (no pooling, no logits).

  Args:
    inputs: float Tensor [batch, height, width, channels].
    conv_defs: {'spec': [op(...)], 'defaults': ..., 'overrides': ...}.
    multiplier: float > 0, passed to each op's multiplier_func.
    final_endpoint: 'layer_<i>' to stop after (None: all layers).
    output_stride: None, 1 or an even number: the largest total stride;
      later strides become atrous rates.
    use_explicit_padding: pad explicitly and convolve with VALID padding
      (same output sizes as SAME).
    scope: variable scope (default 'Mobilenet').
    is_training: batch-norm mode; None leaves it to the enclosing arg_scope
      (`training_scope` sets it on this function too).

  Returns:
    (net, end_points): the last layer built [batch, h', w', c'] and name ->
    Tensor.

  Raises:
    ValueError: for multiplier <= 0, an invalid output_stride or an unknown
      final_endpoint.
  """
  if multiplier <= 0:
    raise ValueError('multiplier is not greater than zero.')
  _check_output_stride(output_stride)
  _check_final_endpoint(final_endpoint, len(conv_defs['spec']))
  defaults = conv_defs.get('defaults', {})
  overrides = conv_defs.get('overrides', {})
  if use_explicit_padding:
    overrides = copy.deepcopy(overrides)
    overrides[(slim.conv2d, slim.separable_conv2d)] = {'padding': 'VALID'}
  with _scope_all(scope, default_scope='Mobilenet'), \
      safe_arg_scope([slim.batch_norm], is_training=is_training), \
      _set_arg_scope_defaults(defaults), \
      _set_arg_scope_defaults(overrides):
    strides = [1, 1]  # The total stride so far, the atrous rate.
    net = inputs
    end_points = {}
    layer_scopes = {}  # Name scope of a layer's output -> its end point.
    for i, opdef in enumerate(conv_defs['spec']):
      params, rate = _strided_params(opdef, multiplier, strides,
                                     output_stride)
      end_point = 'layer_%d' % (i + 1)
      try:
        net = _apply_op(net, opdef, params, rate,
                        use_explicit_padding=use_explicit_padding)
      except Exception:
        tf.logging.error('Failed to create op %d: %r params: %r', i, opdef,
                         params)
        raise
      end_points[end_point] = net
      layer_scopes[os.path.dirname(net.name)] = end_point
      if end_point == final_endpoint:
        break
    end_points.update(_named_outputs(net.graph, layer_scopes))
    return net, end_points


def _apply_op(net, opdef, params, rate, *, use_explicit_padding):
  """One layer of the spec: opdef.op on `net` with `params`, explicitly
  padded for the dilation `rate` if asked."""
  if use_explicit_padding:
    # Blocks pad their own spatial convolutions; research/slim pads the
    # input of any op with a kernel_size, which breaks blocks that have one
    # (MobileNet v3's).
    if 'use_explicit_padding' in inspect.signature(opdef.op).parameters:
      params['use_explicit_padding'] = True
    elif 'kernel_size' in params:
      net = _fixed_padding(net, params['kernel_size'], rate)
  return opdef.op(net, **params)


def _named_outputs(graph, layer_scopes):
  """The ops named ...output in a layer's scope (expansion_output,
  depthwise_output, ...), as end points '<layer end point>/<op name>'.

  Args:
    graph: the tf.Graph built in.
    layer_scopes: each layer's name scope -> its end point, e.g. layer_3.
  """
  found = {}
  for operation in graph.get_operations():
    layer_scope, name = os.path.split(operation.name)
    if layer_scope in layer_scopes and name.endswith('output'):
      found[layer_scopes[layer_scope] + '/' + name] = operation.outputs[0]
  return found


@slim.add_arg_scope
def mobilenet(inputs, num_classes=1001, prediction_fn=slim.softmax,
              reuse=None, scope='Mobilenet', base_only=False,
              use_reduce_mean_for_pooling=False, dropout_keep_prob=None,
              **mobilenet_args):
  """A MobileNet classifier: mobilenet_base, global pool, dropout, 1x1 conv.

  Args:
    inputs: float Tensor [batch, height, width, channels].
    num_classes: logits width; 0 or None returns the pooled features
      [batch, 1, 1, channels] (end point `global_pool`), no logits variables.
    prediction_fn: logits -> `Predictions` end point (None: none).
    reuse: whether to reuse the variables of `scope`.
    scope: variable scope.
    base_only: return mobilenet_base's output, without pooling or logits.
    use_reduce_mean_for_pooling: pool with reduce_mean (op `ReduceMean`)
      rather than an average pool.
    dropout_keep_prob: keep probability of the dropout before the logits;
      None leaves it to the arg_scope (training_scope's 0.8). Not in
      research/slim, whose callers set it only through training_scope.
    **mobilenet_args: for mobilenet_base: conv_defs, multiplier,
      final_endpoint, output_stride, use_explicit_padding, is_training (also
      the dropout mode; default False).

  Returns:
    (logits [batch, num_classes], end_points dict name -> Tensor).

  Raises:
    ValueError: if inputs is not rank 4.
  """
  is_training = mobilenet_args.get('is_training', False)
  rank = len(inputs.get_shape().as_list())
  if rank != 4:
    raise ValueError('Expected rank 4 input, was: %d' % rank)
  with tf.variable_scope(scope, 'Mobilenet', reuse=reuse) as var_scope:
    inputs = tf.identity(inputs, 'input')
    net, end_points = mobilenet_base(inputs, scope=var_scope,
                                     **mobilenet_args)
    if base_only:
      return net, end_points
    net = tf.identity(net, name='embedding')
    with tf.variable_scope('Logits'):
      net = end_points['global_pool'] = global_pool(
          net, use_reduce_mean_for_pooling)
      if not num_classes:
        return net, end_points
      keep_prob = {} if dropout_keep_prob is None else {
          'keep_prob': dropout_keep_prob}
      net = slim.dropout(net, scope='Dropout', is_training=is_training,
                         **keep_prob)
      # The published checkpoints' (legacy) scope name.
      logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                           normalizer_fn=None,
                           biases_initializer=tf.zeros_initializer(),
                           scope='Conv2d_1c_1x1')
      logits = tf.identity(tf.squeeze(logits, [1, 2]), name='output')
    end_points['Logits'] = logits
    if prediction_fn:
      end_points['Predictions'] = prediction_fn(logits, 'Predictions')
  return logits, end_points


def global_pool(input_tensor, use_reduce_mean_for_pooling=False,
                pool_op=tf.nn.avg_pool2d):
  """Averages [batch, height, width, depth] to [batch, 1, 1, depth].

  An average pool over the whole (static) map, which more hardware runs
  than a reduce_mean; reduce_mean with use_reduce_mean_for_pooling (op
  `ReduceMean`) or when the map size is unknown (op `global_pool`).
  """
  if use_reduce_mean_for_pooling:
    return tf.reduce_mean(input_tensor, [1, 2], keepdims=True,
                          name='ReduceMean')
  height, width = input_tensor.get_shape().as_list()[1:3]
  if height is None or width is None:
    # Pooling ops need a static window.
    return tf.reduce_mean(input_tensor, [1, 2], keepdims=True,
                          name='global_pool')
  return pool_op(input_tensor, ksize=[1, height, width, 1],
                 strides=[1, 1, 1, 1], padding='VALID')


def training_scope(is_training=True, weight_decay=0.00004, stddev=0.09,
                   dropout_keep_prob=0.8, bn_decay=0.997):
  """The arg_scope MobileNet v2/v3 were trained with.

  Batch-norm center and scale are not set here: they are part of the
  architecture, so each network's conv_defs['defaults'] sets them.

  Args:
    is_training: training mode of batch norm, dropout and the network
      functions of this module; None leaves it unset.
    weight_decay: L2 strength on the conv weights (not the depthwise ones).
    stddev: truncated-normal initialiser stddev; negative: Xavier.
    dropout_keep_prob: keep probability of the dropout before the logits.
    bn_decay: moving-average decay of the batch-norm statistics.

  Returns:
    An arg_scope dict for slim.arg_scope.
  """
  if stddev < 0:
    initializer = slim.initializers.xavier_initializer()
  else:
    initializer = tf.truncated_normal_initializer(stddev=stddev)
  with slim.arg_scope(
      [slim.conv2d, slim.fully_connected, slim.separable_conv2d],
      weights_initializer=initializer, normalizer_fn=slim.batch_norm), \
      safe_arg_scope([mobilenet_base, mobilenet], is_training=is_training), \
      safe_arg_scope([slim.batch_norm], decay=bn_decay,
                     is_training=is_training), \
      safe_arg_scope([slim.dropout], is_training=is_training,
                     keep_prob=dropout_keep_prob), \
      slim.arg_scope([slim.conv2d],
                     weights_regularizer=slim.l2_regularizer(weight_decay)), \
      slim.arg_scope([slim.separable_conv2d], weights_regularizer=None) as scope:
    return scope
