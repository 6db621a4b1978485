"""research/slim's MobileNet v3 and MobileNet-EdgeTPU
(nets/mobilenet/mobilenet_v3.py).

Howard et al., "Searching for MobileNetV3", https://arxiv.org/abs/1905.02244.
v3 adds to the v2 inverted residual 5x5 kernels, squeeze-and-excite and the
hard-swish activation, and ends with a cheaper head: 1x1 conv, pool to 1x1,
then a 1x1 conv without batch norm. The "minimalistic" variants drop
squeeze-and-excite, 5x5 kernels and hard-swish. EdgeTPU replaces the early
blocks by "fused" ones (a full 3x3 conv expands, no depthwise conv), which
run faster on the Edge TPU. The conv_defs V3_LARGE, V3_SMALL, their
minimalistic variants and V3_EDGETPU build with mobilenet.py's builder;
`mbv3_op` and friends make new ones. Variables are the published
checkpoints' (`MobilenetV3/...`, `MobilenetEdgeTPU/...`). Inference mode by
default; build for training inside `training_scope()` (or with
is_training=True).
"""

import copy
import functools

import numpy as np
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets.mobilenet import conv_blocks as ops
from slimvision.nets.mobilenet import mobilenet as lib

op = lib.op
expand_input = ops.expand_input_by_factor


def hard_sigmoid(x, name='hard_sigmoid'):
  """relu6(x + 3) / 6: a piecewise-linear sigmoid in [0, 1]."""
  with tf.name_scope(name):
    return tf.nn.relu6(x + 3.) * (1. / 6.)


def hard_swish(x, name='hard_swish'):
  """x * hard_sigmoid(x), the MobileNet v3 activation."""
  with tf.name_scope(name):
    return x * tf.nn.relu6(x + 3.) * (1. / 6.)


# MobileNet v3's squeeze-and-excite: a quarter-width bottleneck and
# hard-sigmoid gates.
squeeze_excite = functools.partial(
    ops.squeeze_excite, squeeze_factor=4, inner_activation_fn=tf.nn.relu,
    gating_fn=hard_sigmoid)


def _se4(expansion_tensor, input_tensor):
  """squeeze_excite as an expanded_conv expansion_transform."""
  del input_tensor  # The gates come from the expansion itself.
  return squeeze_excite(expansion_tensor)


def reduce_to_1x1(input_tensor, default_size=7, **kwargs):
  """Averages [batch, h, w, c] to [batch, 1, 1, c]; kwargs for
  slim.avg_pool2d (stride, padding).

  research/slim pools a default_size window wherever the map is not known to
  be square, which is the whole map only at the published 224 pixels; here
  such a map is averaged whole at any size (`default_size` stays for
  research/slim's callers, and is that size at 224 pixels).
  """
  kwargs.pop('rate', None)  # From output_stride: pooling has no dilation.
  height, width = input_tensor.shape.as_list()[1:3]
  if height is None or width is None:
    return tf.reduce_mean(input_tensor, [1, 2], keepdims=True, name='AvgPool')
  return slim.avg_pool2d(input_tensor, kernel_size=[height, width], **kwargs)


def mbv3_op(ef, n, k, s=1, act=tf.nn.relu, se=None, **kwargs):
  """An expanded_conv op: expansion factor ef, n outputs, k x k depthwise
  kernel, stride s, inner activation act, expansion_transform se; kwargs
  for expanded_conv."""
  return op(ops.expanded_conv, expansion_size=expand_input(ef),
            kernel_size=(k, k), stride=s, num_outputs=n,
            inner_activation_fn=act, expansion_transform=se, **kwargs)


def mbv3_fused(ef, n, k, s=1, **kwargs):
  """A fused expanded_conv op: a k x k conv (stride s) expands by ef, no
  depthwise conv, then the 1x1 projection to n."""
  expansion_fn = functools.partial(slim.conv2d, kernel_size=k, stride=s)
  return mbv3_op(ef, n, k=1, s=s, depthwise_location=None,
                 expansion_fn=expansion_fn, **kwargs)


mbv3_op_se = functools.partial(mbv3_op, se=_se4)

DEFAULTS = {
    (ops.expanded_conv,): dict(normalizer_fn=slim.batch_norm, residual=True),
    (slim.conv2d, slim.fully_connected, slim.separable_conv2d): {
        'normalizer_fn': slim.batch_norm,
        'activation_fn': tf.nn.relu,
    },
    (slim.batch_norm,): {'center': True, 'scale': True},
}

DEFAULTS_GROUP_NORM = {
    (ops.expanded_conv,): dict(normalizer_fn=slim.group_norm, residual=True),
    (slim.conv2d, slim.fully_connected, slim.separable_conv2d): {
        'normalizer_fn': slim.group_norm,
        'activation_fn': tf.nn.relu,
    },
    (slim.group_norm,): {'groups': 8},
}


def _head(last_conv, final_conv):
  """1x1 conv, pool to 1x1, 1x1 conv without batch norm (hard-swish)."""
  return [
      op(slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=last_conv,
         activation_fn=hard_swish),
      op(reduce_to_1x1, default_size=7, stride=1, padding='VALID'),
      op(slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=final_conv,
         normalizer_fn=None, activation_fn=hard_swish),
  ]


def _minimalistic(conv_defs):
  """The network without squeeze-and-excite, 5x5 kernels and hard-swish:
  every layer 3x3 (where spatial) with the default ReLU."""
  spec = []
  for opdef in conv_defs['spec']:
    params = dict(opdef.params)
    params.pop('activation_fn', None)
    if opdef.op is ops.expanded_conv:
      params.update(kernel_size=(3, 3), inner_activation_fn=tf.nn.relu,
                    expansion_transform=None)
    spec.append(opdef._replace(params=params))
  return dict(defaults=dict(DEFAULTS), spec=spec)


# 224x224 -> layer_17 7x7x960 -> layer_19 1x1x1280.
V3_LARGE = dict(
    defaults=dict(DEFAULTS),
    spec=[
        op(slim.conv2d, stride=2, num_outputs=16, kernel_size=(3, 3),
           activation_fn=hard_swish),
        mbv3_op(ef=1, n=16, k=3),
        mbv3_op(ef=4, n=24, k=3, s=2),
        mbv3_op(ef=3, n=24, k=3, s=1),
        mbv3_op_se(ef=3, n=40, k=5, s=2),
        mbv3_op_se(ef=3, n=40, k=5, s=1),
        mbv3_op_se(ef=3, n=40, k=5, s=1),
        mbv3_op(ef=6, n=80, k=3, s=2, act=hard_swish),
        mbv3_op(ef=2.5, n=80, k=3, s=1, act=hard_swish),
        mbv3_op(ef=184 / 80., n=80, k=3, s=1, act=hard_swish),
        mbv3_op(ef=184 / 80., n=80, k=3, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=112, k=3, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=112, k=3, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=160, k=5, s=2, act=hard_swish),
        mbv3_op_se(ef=6, n=160, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=160, k=5, s=1, act=hard_swish),
    ] + _head(960, 1280))

# 224x224 -> layer_13 7x7x576 -> layer_15 1x1x1024.
V3_SMALL = dict(
    defaults=dict(DEFAULTS),
    spec=[
        op(slim.conv2d, stride=2, num_outputs=16, kernel_size=(3, 3),
           activation_fn=hard_swish),
        mbv3_op_se(ef=1, n=16, k=3, s=2),
        mbv3_op(ef=72. / 16, n=24, k=3, s=2),
        mbv3_op(ef=88. / 24, n=24, k=3, s=1),
        mbv3_op_se(ef=4, n=40, k=5, s=2, act=hard_swish),
        mbv3_op_se(ef=6, n=40, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=40, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=3, n=48, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=3, n=48, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=96, k=5, s=2, act=hard_swish),
        mbv3_op_se(ef=6, n=96, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=96, k=5, s=1, act=hard_swish),
    ] + _head(576, 1024))

V3_LARGE_MINIMALISTIC = _minimalistic(V3_LARGE)
V3_SMALL_MINIMALISTIC = _minimalistic(V3_SMALL)

# 224x224 -> layer_24 7x7x1280, ReLU throughout.
V3_EDGETPU = dict(
    defaults=dict(DEFAULTS),
    spec=[
        op(slim.conv2d, stride=2, num_outputs=32, kernel_size=(3, 3)),
        mbv3_fused(k=3, s=1, ef=1, n=16),
        mbv3_fused(k=3, s=2, ef=8, n=32),
        mbv3_fused(k=3, s=1, ef=4, n=32),
        mbv3_fused(k=3, s=1, ef=4, n=32),
        mbv3_fused(k=3, s=1, ef=4, n=32),
        mbv3_fused(k=3, s=2, ef=8, n=48),
        mbv3_fused(k=3, s=1, ef=4, n=48),
        mbv3_fused(k=3, s=1, ef=4, n=48),
        mbv3_fused(k=3, s=1, ef=4, n=48),
        mbv3_op(k=3, s=2, ef=8, n=96),
        mbv3_op(k=3, s=1, ef=4, n=96),
        mbv3_op(k=3, s=1, ef=4, n=96),
        mbv3_op(k=3, s=1, ef=4, n=96),
        # layer_15: no shortcut, though its input and output match (as in
        # research/slim and the published EdgeTPU graph).
        mbv3_op(k=3, s=1, ef=8, n=96, residual=False),
        mbv3_op(k=3, s=1, ef=4, n=96),
        mbv3_op(k=3, s=1, ef=4, n=96),
        mbv3_op(k=3, s=1, ef=4, n=96),
        mbv3_op(k=5, s=2, ef=8, n=160),
        mbv3_op(k=5, s=1, ef=4, n=160),
        mbv3_op(k=5, s=1, ef=4, n=160),
        mbv3_op(k=5, s=1, ef=4, n=160),
        mbv3_op(k=3, s=1, ef=8, n=192),
        op(slim.conv2d, stride=1, num_outputs=1280, kernel_size=(1, 1)),
    ])


@slim.add_arg_scope
def mobilenet(input_tensor, num_classes=1001, depth_multiplier=1.0,
              scope='MobilenetV3', conv_defs=None,
              finegrain_classification_mode=False, use_groupnorm=False,
              **kwargs):
  """Creates MobileNet v3. Inference mode is created by default: build
  for training inside training_scope() or with is_training=True.

  Args:
    input_tensor: float Tensor [batch, height, width, 3].
    num_classes: logits width; 0 or None returns the pooled features
      [batch, 1, 1, channels].
    depth_multiplier: width multiplier of every layer (channels rounded to
      multiples of 8).
    scope: variable scope.
    conv_defs: the network (default V3_LARGE).
    finegrain_classification_mode: keep the last layer at full width when
      depth_multiplier < 1 (ignored when final_endpoint stops earlier).
    use_groupnorm: group normalisation instead of batch norm
      (DEFAULTS_GROUP_NORM; kwargs['groups'], default 8, groups).
    **kwargs: passed on to the builder, mobilenet.mobilenet (see there).

  Returns:
    (logits [batch, num_classes], end_points dict name -> Tensor); the
    pooled features [batch, 1, 1, channels] for num_classes 0 or None.

  Raises:
    ValueError: for the generic `multiplier` argument.
  """
  lib.check_no_generic_multiplier(kwargs)
  conv_defs = V3_LARGE if conv_defs is None else conv_defs
  if use_groupnorm:
    conv_defs = copy.deepcopy(conv_defs)
    conv_defs['defaults'] = dict(DEFAULTS_GROUP_NORM)
    conv_defs['defaults'][(slim.group_norm,)] = {
        'groups': kwargs.pop('groups', 8)}
  if finegrain_classification_mode:
    conv_defs = copy.deepcopy(conv_defs)
    conv_defs['spec'][-1] = conv_defs['spec'][-1]._replace(
        multiplier_func=lambda params, multiplier: params)
  return lib.mobilenet(input_tensor, num_classes=num_classes,
                       conv_defs=conv_defs, scope=scope,
                       multiplier=depth_multiplier, **kwargs)


mobilenet.default_image_size = 224
training_scope = lib.training_scope


@slim.add_arg_scope
def mobilenet_base(input_tensor, depth_multiplier=1.0, **kwargs):
  """The network without pooling and logits; arguments as in mobilenet."""
  return mobilenet(input_tensor, depth_multiplier=depth_multiplier,
                   base_only=True, **kwargs)


def wrapped_partial(func, new_defaults=None, **kwargs):
  """functools.partial(func, **kwargs) keeping func's name, docstring and
  attributes; new_defaults are defaults the caller may still override."""
  new_defaults = dict(new_defaults or {})

  def func_wrapper(*f_args, **f_kwargs):
    return func(*f_args, **dict(new_defaults, **f_kwargs))

  functools.update_wrapper(func_wrapper, func)
  partial_func = functools.partial(func_wrapper, **kwargs)
  functools.update_wrapper(partial_func, func)
  return partial_func


large = wrapped_partial(mobilenet, conv_defs=V3_LARGE)
small = wrapped_partial(mobilenet, conv_defs=V3_SMALL)
edge_tpu = wrapped_partial(mobilenet,
                           new_defaults={'scope': 'MobilenetEdgeTPU'},
                           conv_defs=V3_EDGETPU)
edge_tpu_075 = wrapped_partial(
    mobilenet, new_defaults={'scope': 'MobilenetEdgeTPU'},
    conv_defs=V3_EDGETPU, depth_multiplier=0.75,
    finegrain_classification_mode=True)
# No squeeze-and-excite, hard-swish or 5x5 kernels: friendlier to hardware.
large_minimalistic = wrapped_partial(mobilenet,
                                     conv_defs=V3_LARGE_MINIMALISTIC)
small_minimalistic = wrapped_partial(mobilenet,
                                     conv_defs=V3_SMALL_MINIMALISTIC)


def _reduce_consecutive_layers(conv_defs, start_id, end_id, multiplier=0.5):
  """A copy of conv_defs with layers start_id..end_id (0-based, inclusive)
  narrowed to round(num_outputs * multiplier)."""
  defs = copy.deepcopy(conv_defs)
  for opdef in defs['spec'][start_id:end_id + 1]:
    opdef.params['num_outputs'] = int(
        np.round(opdef.params['num_outputs'] * multiplier))
  return defs


# Detection backbones: the last stage halved.
V3_LARGE_DETECTION = _reduce_consecutive_layers(V3_LARGE, 13, 16)
V3_SMALL_DETECTION = _reduce_consecutive_layers(V3_SMALL, 9, 12)

__all__ = ['training_scope', 'mobilenet', 'V3_LARGE', 'V3_SMALL', 'large',
           'small', 'V3_LARGE_DETECTION', 'V3_SMALL_DETECTION']
