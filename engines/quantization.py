"""Quantization-aware graphs: what tf.contrib.quantize did, on TF-Slim graphs.

`create_training_graph(graph, quant_delay)` and `create_eval_graph(graph)`
rewrite a built network in place, before the optimizer adds its gradients
(research/slim called them right after `model_deploy.create_clones`) and
before any session runs the graph (a session keeps the inputs of the ops
it has seen):

  * Each layer - a Conv2D, DepthwiseConv2dNative or MatMul on a variable,
    then an optional batch norm or bias, an optional residual add and an
    optional Relu, Relu6 or Identity - gets its weights fake-quantized to 8
    bits (narrow range, symmetric about 0 as int8 kernels need, from the
    range of the last value) and its output (after
    the activation, or after the bias where there is none) fake-quantized
    with moving averages (decay 0.999, zero-debiased) of its batch ranges.
  * A fused batch norm is folded into the weights as the integer kernel
    will run it, so the ranges learned are the ones the model runs with.
    Training keeps the batch statistics (Jacob et al. 2018, sec. 3.2): the
    weights are scaled by gamma / sigma_moving (slowly changing, so their
    range is stable), and the convolution's output by sigma_moving /
    sigma_batch, with the bias beta - mu_batch * gamma / sigma_batch. The
    original batch norm still updates the moving mean and variance. Eval
    folds the moving statistics.
  * With quant_delay > 0 the fake-quant ops pass values through until the
    graph has run quant_delay times (counted in `fake_quantization_step`);
    the ranges are collected from the first step.

The variables are named as tf.contrib.quantize named them, so that
research/slim's `_quant` checkpoints restore: in the name scope of the
layer's op (`<scope>` of `<scope>/Conv2D`, e.g.
`MobilenetV1/MobilenetV1/Conv2d_0`; a `clone_N/` prefix of model_deploy is
dropped, so the clones share them):
  * `<scope>/weights_quant/min`, `/max`: float scalars (initial -6, 6);
  * `<scope>/act_quant/min`, `/max` (initial 0, 6), and in the training
    graph the zero-debiasing state of their moving averages,
    `<scope>/act_quant/min/biased`, `/min/local_step`, `/max/biased`,
    `/max/local_step`;
  * a residual add before the activation: `<scope>/conv_quant/...` on its
    conv input, and the activation's range is `<parent>/act_quant/...` in
    the scope above the layer's; a residual add after the activation:
    `<add scope>/post_activation_bypass_quant/...` on its output (both
    unless an activation follows the add);
  * with quant_delay > 0: `fake_quantization_step` (int64).
All are global variables (not model variables) in the collection
`checkpoints.QUANTIZATION_VARIABLES`.
"""

import collections
import re

import tensorflow.compat.v1 as tf

from slimvision.core import log
from slimvision.engines.checkpoints import QUANTIZATION_VARIABLES

WEIGHT_BITS = 8
ACTIVATION_BITS = 8
EMA_DECAY = 0.999
STEP_NAME = 'fake_quantization_step'

_LAYER_TYPES = {
    'Conv2D': ('strides', 'padding', 'explicit_paddings', 'data_format',
               'dilations', 'use_cudnn_on_gpu'),
    'DepthwiseConv2dNative': ('strides', 'padding', 'explicit_paddings',
                              'data_format', 'dilations'),
    'MatMul': ('transpose_a', 'transpose_b'),
}
_ACTIVATIONS = ('Relu', 'Relu6', 'Identity')
_ADDS = ('Add', 'AddV2')
_BIAS_ADDS = ('BiasAdd',) + _ADDS
# Ops of these scopes are not the network's.
_SKIPPED_SCOPES = ('gradients/', 'save/')
_CLONE_PREFIX = re.compile(r'^clone_\d+/')

_Layer = collections.namedtuple('_Layer', [
    'op', 'weights', 'batch_norm', 'bias_add', 'bypass', 'activation',
    'post_bypass'])


def create_training_graph(graph, quant_delay=0):
  """Rewrites the training network in `graph` for quantization-aware
  training; fake quantization starts after `quant_delay` runs (0: at once).

  Call it before the gradients are added. Returns the layers rewritten.
  """
  return _rewrite(graph, is_training=True, quant_delay=quant_delay)


def create_eval_graph(graph):
  """Rewrites the inference network in `graph` into its quantized form
  with the ranges as variables (restored from a checkpoint trained with
  create_training_graph). Returns the layers rewritten."""
  return _rewrite(graph, is_training=False, quant_delay=0)


def _rewrite(graph, is_training, quant_delay):
  if graph.get_collection(QUANTIZATION_VARIABLES):
    raise ValueError('the graph is already quantization-aware')
  layers = _find_layers(graph)
  if not layers:
    raise ValueError('no layer to quantize: no Conv2D, DepthwiseConv2dNative '
                     'or MatMul on a variable followed by a bias, batch norm '
                     'or activation')
  with graph.as_default(), tf.name_scope(None):
    step = _quantization_step() if quant_delay and quant_delay > 0 else None
    quantizer = _Quantizer(graph, is_training, quant_delay, step)
    for layer in layers:
      quantizer.layer(layer)
  log.info('Quantization-aware %s graph: %d layers (batch norm folded in '
           '%d)%s', 'training' if is_training else 'eval', len(layers),
           sum(1 for l in layers if l.batch_norm is not None),
           ', fake quantization from step %d' % quant_delay
           if step is not None else '')
  return layers


def _quantization_step():
  """The run counter of delayed quantization: the variable
  `fake_quantization_step`, incremented each time the graph runs."""
  variable = tf.get_variable(
      STEP_NAME, shape=[], dtype=tf.int64,
      initializer=tf.zeros_initializer(), trainable=False,
      collections=[tf.GraphKeys.GLOBAL_VARIABLES, QUANTIZATION_VARIABLES])
  with tf.name_scope(STEP_NAME + '/'):
    return _after_adding(variable, tf.constant(1, tf.int64))


def _single_consumer(tensor, types):
  """The one op consuming `tensor`, if it has one and its type is in
  `types`; else None."""
  consumers = tensor.consumers()
  if len(consumers) == 1 and consumers[0].type in types:
    return consumers[0]
  return None


def _reads_a_variable(tensor):
  op = tensor.op
  if op.type == 'ReadVariableOp':
    return True
  return op.type == 'Identity' and op.inputs[0].op.type in (
      'VariableV2', 'Variable')


def _find_layers(graph):
  """The layers of `graph` to quantize, in graph order."""
  layers = []
  for op in graph.get_operations():
    if (op.type not in _LAYER_TYPES or op.name.startswith(_SKIPPED_SCOPES)
        or not _reads_a_variable(op.inputs[1])):
      continue
    if op.type != 'MatMul' and op.get_attr('data_format') != b'NHWC':
      log.info('Not quantized (not NHWC): %s', op.name)
      continue
    layer = _match_layer(op)
    if layer is None:
      log.info('Not quantized (no bias, batch norm or activation after '
               'it): %s', op.name)
    else:
      layers.append(layer)
  return layers


def _match_layer(op):
  """The _Layer that starts at `op`, or None."""
  output = op.outputs[0]
  batch_norm = _single_consumer(output, ('FusedBatchNorm',
                                         'FusedBatchNormV3'))
  bias_add = None
  if batch_norm is not None and batch_norm.inputs[0] is output:
    output = batch_norm.outputs[0]
  else:
    batch_norm = None
    bias_add = _single_consumer(output, _BIAS_ADDS)
    if bias_add is not None:
      output = bias_add.outputs[0]
  bypass = _single_consumer(output, _ADDS)
  if bypass is not None and _single_consumer(bypass.outputs[0],
                                             _ACTIVATIONS) is not None:
    output = bypass.outputs[0]
  else:
    bypass = None
  activation = _single_consumer(output, _ACTIVATIONS)
  if activation is None and batch_norm is None and bias_add is None:
    return None
  post_bypass = None
  if activation is not None:
    post_bypass = _single_consumer(activation.outputs[0], _ADDS)
  return _Layer(op, op.inputs[1], batch_norm, bias_add, bypass, activation,
                post_bypass)


def _context(op):
  """The name scope of `op` without model_deploy's clone prefix."""
  return _CLONE_PREFIX.sub('', op.name.rpartition('/')[0])


def _reroute(old, new, keep):
  """Makes every consumer of tensor `old` but the ops in `keep` read
  `new` instead."""
  for consumer in list(old.consumers()):
    if consumer in keep:
      continue
    for index, tensor in enumerate(consumer.inputs):
      if tensor is old:
        consumer._update_input(index, new)  # pylint: disable=protected-access


class _Quantizer(object):
  """Rewrites layers of one graph."""

  def __init__(self, graph, is_training, quant_delay, step):
    self.graph = graph
    self.is_training = is_training
    self.quant_delay = quant_delay
    self.step = step

  def _new_ops_since(self, count):
    return set(self.graph.get_operations()[count:])

  def _insert(self, tensor, scope, moving_average, consumers=None,
              **options):
    """Fake-quantizes `tensor` for `consumers` (default: all its present
    consumers); returns the quantized tensor."""
    count = len(self.graph.get_operations())
    targets = set(tensor.consumers() if consumers is None else consumers)
    with tf.name_scope(scope + '/'):
      if moving_average:
        quantized = self._moving_average_quantize(tensor, scope, **options)
      else:
        quantized = self._last_value_quantize(tensor, scope)
      if self.step is not None:
        quantized = tf.cond(self.step >= self.quant_delay,
                            lambda: quantized, lambda: tensor,
                            name='delayed_quant')
    keep = (set(tensor.consumers()) - targets) | self._new_ops_since(count)
    _reroute(tensor, quantized, keep)
    return quantized

  def layer(self, layer):
    """Folds the batch norm of `layer` and quantizes its weights and
    outputs."""
    context = _context(layer.op)
    if layer.batch_norm is not None:
      count = len(self.graph.get_operations())
      pre_activation, replaced = self._fold(layer, context)
      _reroute(replaced, pre_activation, self._new_ops_since(count))
    else:
      # Only the layer reads the quantized weights (not, say, the weight
      # decay that reads the same variable).
      self._insert(layer.weights, context + '/weights_quant',
                   moving_average=False, consumers=[layer.op])
      pre_activation = (layer.bias_add or layer.op).outputs[0]
    act_context = context
    if layer.bypass is not None:
      self._insert(pre_activation, context + '/conv_quant', True,
                   consumers=[layer.bypass], init_min=-6.0)
      act_context = context.rpartition('/')[0]
    last = (layer.activation.outputs[0] if layer.activation is not None
            else pre_activation)
    self._insert(last, act_context + '/act_quant', True)
    if layer.post_bypass is not None and _single_consumer(
        layer.post_bypass.outputs[0], _ACTIVATIONS) is None:
      self._insert(layer.post_bypass.outputs[0],
                   _context(layer.post_bypass) +
                   '/post_activation_bypass_quant', True, init_min=-6.0)

  def _fold(self, layer, context):
    """The layer rebuilt with its batch norm folded into the weights:
    returns (new pre-activation output, the batch norm output it
    replaces)."""
    op, norm = layer.op, layer.batch_norm
    gamma, beta = norm.inputs[1], norm.inputs[2]
    epsilon = norm.get_attr('epsilon')
    moving_mean, moving_variance = _moving_statistics(norm)
    with tf.name_scope(context + '/BatchNorm_Fold/'):
      moving_scale = gamma * tf.rsqrt(moving_variance + epsilon)
      multiplier = moving_scale
      if op.type == 'DepthwiseConv2dNative':
        # Depthwise weights are [h, w, in, multiplier]: output channel
        # in * multiplier + m.
        multiplier = tf.reshape(multiplier, op.inputs[1].shape[2:4])
      folded_weights = tf.multiply(op.inputs[1], multiplier, name='mul_fold')
    weights = self._insert(folded_weights, context + '/weights_quant',
                           moving_average=False)
    with tf.name_scope(context + '/'):
      output = _clone_layer(op, weights)
    with tf.name_scope(context + '/BatchNorm_Fold/'):
      if norm.get_attr('is_training'):
        raw = op.outputs[0]
        mean, variance = tf.nn.moments(raw, axes=list(range(raw.shape.rank
                                                            - 1)))
        # Undoes the moving statistics of the weights' scale: the batch's
        # statistics normalise, as in the float graph.
        output = tf.multiply(
            output, tf.rsqrt(variance + epsilon) /
            tf.rsqrt(moving_variance + epsilon), name='post_conv_mul')
        bias = beta - mean * gamma * tf.rsqrt(variance + epsilon)
      else:
        bias = beta - moving_mean * moving_scale
      output = tf.add(output, bias, name='add_fold')
    return output, norm.outputs[0]

  def _variables(self, scope, init_min, init_max):
    with tf.variable_scope(scope, reuse=tf.AUTO_REUSE,
                           auxiliary_name_scope=False):
      return [tf.get_variable(
          name, shape=[], initializer=tf.constant_initializer(value),
          trainable=False,
          collections=[tf.GraphKeys.GLOBAL_VARIABLES,
                       QUANTIZATION_VARIABLES])
              for name, value in (('min', init_min), ('max', init_max))]

  def _last_value_quantize(self, tensor, scope):
    """Weights: the range of their current value, made symmetric about 0."""
    min_var, max_var = self._variables(scope, -6.0, 6.0)
    if not self.is_training:
      # Also makes symmetric the ranges of checkpoints that are not.
      low, high = _symmetric(min_var, max_var)
      return _fake_quant(tensor, low, high, narrow_range=True)
    low, high = _symmetric(*_batch_range(tensor))
    with tf.control_dependencies([min_var.assign(low, read_value=False),
                                  max_var.assign(high, read_value=False)]):
      return _fake_quant(tensor, low, high, narrow_range=True)

  def _moving_average_quantize(self, tensor, scope, init_min=0.0):
    """Activations: moving averages of the batches' ranges."""
    min_var, max_var = self._variables(scope, init_min, 6.0)
    if not self.is_training:
      return _fake_quant(tensor, min_var, max_var, narrow_range=False)
    low, high = _batch_range(tensor)
    low = _zero_debiased_average(min_var, low, scope + '/min')
    high = _zero_debiased_average(max_var, high, scope + '/max')
    return _fake_quant(tensor, low, high, narrow_range=False)


def _moving_statistics(norm):
  """(moving mean, moving variance) tensors of a fused batch norm op: its
  inputs in inference, the variables of its scope in training (where the
  inputs may be empty)."""
  mean, variance = norm.inputs[3], norm.inputs[4]
  if mean.shape.num_elements():
    return mean, variance
  scope = norm.inputs[2].op.inputs[0].op.name.rpartition('/')[0]
  by_name = {v.op.name: v for v in tf.global_variables()}
  try:
    return (by_name[scope + '/moving_mean'].read_value(),
            by_name[scope + '/moving_variance'].read_value())
  except KeyError:
    raise ValueError('batch norm %s: no moving_mean and moving_variance '
                     'variables in %s' % (norm.name, scope))


def _clone_layer(op, weights):
  """A copy of the Conv2D, DepthwiseConv2dNative or MatMul `op` reading
  `weights`."""
  attrs = {name: op.get_attr(name) for name in _LAYER_TYPES[op.type]
           if name in op.node_def.attr}
  name = op.name.rpartition('/')[2] + '_Fold'
  if op.type == 'MatMul':
    return tf.raw_ops.MatMul(a=op.inputs[0], b=weights, name=name, **attrs)
  function = getattr(tf.raw_ops, op.type)
  return function(input=op.inputs[0], filter=weights, name=name, **attrs)


def _batch_range(tensor):
  """(min, max) of `tensor`, widened to include 0 (TFLite needs 0 exactly
  representable); no gradient flows through them."""
  low = tf.minimum(tf.reduce_min(tensor), 0.0, name='BatchMin')
  high = tf.maximum(tf.reduce_max(tensor), 0.0, name='BatchMax')
  return tf.stop_gradient(low), tf.stop_gradient(high)


def _symmetric(low, high):
  """The range (-m, m) with m = max(-low, high): 8-bit integer kernels
  (TFLite's int8 convolutions, TensorFlow Lite Micro, the EdgeTPU) take
  weights whose zero point is 0. contrib.quantize's default was
  asymmetric, for the uint8 kernels of its time; its `symmetric` option is
  this."""
  bound = tf.maximum(-low, high)
  return -bound, bound


def _zero_debiased_average(variable, value, scope):
  """Updates `variable` to the zero-debiased moving average of `value`
  (decay EMA_DECAY) and returns the new average. The state lives in
  `<scope>/biased` (the biased average) and `<scope>/local_step` (the
  updates so far), as TensorFlow's assign_moving_average keeps it (that
  function is private in TensorFlow 2.21: no tf.compat.v1 name)."""
  with tf.variable_scope(scope, reuse=tf.AUTO_REUSE,
                         auxiliary_name_scope=False):
    biased, local_step = [tf.get_variable(
        name, shape=[], initializer=tf.zeros_initializer(), trainable=False,
        collections=[tf.GraphKeys.GLOBAL_VARIABLES, QUANTIZATION_VARIABLES])
                          for name in ('biased', 'local_step')]
  # One float32 decay on both sides (Python's 1 - 0.999 is another float32
  # than 1 - float32(0.999)), and 1 - decay**step as -expm1(step * log
  # decay): in float32, 1 - pow() loses 5 digits to cancellation. An
  # average of 6s read 6.0001, out of a Relu6's range.
  decay = tf.constant(EMA_DECAY, tf.float32)
  new_biased = _after_adding(biased, (value - biased) * (1.0 - decay))
  new_step = _after_adding(local_step, tf.constant(1.0))
  average = new_biased / -tf.math.expm1(new_step * tf.math.log(decay))
  with tf.control_dependencies([variable.assign(average, read_value=False)]):
    return tf.identity(average)


def _after_adding(variable, delta):
  """Adds `delta` to `variable`; returns its value read after that."""
  with tf.control_dependencies([variable.assign_add(delta,
                                                    read_value=False)]):
    return tf.identity(variable.read_value())


def _fake_quant(tensor, low, high, narrow_range):
  bits = WEIGHT_BITS if narrow_range else ACTIVATION_BITS
  return tf.quantization.fake_quant_with_min_max_vars(
      tensor, low, high, num_bits=bits, narrow_range=narrow_range)
