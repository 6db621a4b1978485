"""research/slim's MobileNet v3 and MobileNet-EdgeTPU
(nets/mobilenet/mobilenet_v3.py).

Howard et al., "Searching for MobileNetV3", https://arxiv.org/abs/1905.02244.
The conv_defs V3_LARGE, V3_SMALL, their minimalistic variants and
V3_EDGETPU are research/slim's, made from the layer lists of
nets/mobilenet_v3.py (written once there); `mbv3_op` and friends build new
ones. Inference mode by default; build for training inside
`training_scope()` (or with is_training=True).
"""

import copy
import functools

import numpy as np
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import mobilenet_blocks as blocks
from slimvision.nets import mobilenet_v3 as blocks_v3
from slimvision.nets.mobilenet import conv_blocks as ops
from slimvision.nets.mobilenet import mobilenet as lib

op = lib.op
expand_input = ops.expand_input_by_factor
hard_swish = blocks.hard_swish
reduce_to_1x1 = ops.reduce_to_1x1
squeeze_excite = ops.squeeze_excite_v3
_se4 = ops.squeeze_excite_transform


def mbv3_op(ef, n, k, s=1, act=tf.nn.relu, se=None, **kwargs):
  """An expanded_conv op: expansion factor ef, n outputs, k x k depthwise
  kernel, stride s, inner activation act, expansion_transform se."""
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


def _conv_defs(network_def):
  return dict(defaults=dict(DEFAULTS),
              spec=ops.spec_from_blocks(network_def))


V3_LARGE = _conv_defs(blocks_v3.V3_LARGE)
V3_LARGE_MINIMALISTIC = _conv_defs(blocks_v3.V3_LARGE_MINIMALISTIC)
V3_SMALL = _conv_defs(blocks_v3.V3_SMALL)
V3_SMALL_MINIMALISTIC = _conv_defs(blocks_v3.V3_SMALL_MINIMALISTIC)
V3_EDGETPU = _conv_defs(blocks_v3.V3_EDGETPU)
# research/slim's EdgeTPU layer_15 (8x expansion, 96 -> 96) has no residual
# connection; nets/mobilenet_v3.py's V3_EDGETPU gives it one.
V3_EDGETPU['spec'][14] = V3_EDGETPU['spec'][14]._replace(
    params=dict(V3_EDGETPU['spec'][14].params, residual=False))


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
    **kwargs: for mobilenet.mobilenet: prediction_fn, reuse, base_only,
      use_reduce_mean_for_pooling, final_endpoint, output_stride,
      use_explicit_padding, is_training.

  Returns:
    (logits [batch, num_classes], end_points dict name -> Tensor).

  Raises:
    ValueError: for the generic `multiplier` argument.
  """
  if conv_defs is None:
    conv_defs = V3_LARGE
  lib.check_no_generic_multiplier(kwargs)
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
