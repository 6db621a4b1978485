"""research/slim's MobileNet v2 (nets/mobilenet/mobilenet_v2.py).

Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
https://arxiv.org/abs/1801.04381. `V2_DEF` is the network as conv_defs for
mobilenet.py's builder: a 3x3 stride-2 conv, 17 inverted residuals (1x1
expansion by 6, 3x3 depthwise, linear 1x1 projection, ReLU6 inside) and a
1x1 conv to 1280 channels; 224x224x3 -> layer_19 7x7x1280 -> logits.
Variables are the published checkpoints' (scope `MobilenetV2`), e.g.
`MobilenetV2/expanded_conv_3/expand/weights`. Inference mode by default;
build for training inside `training_scope()` (or with is_training=True).
"""

import copy
import functools

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets.mobilenet import conv_blocks as ops
from slimvision.nets.mobilenet import mobilenet as lib

op = lib.op
expand_input = ops.expand_input_by_factor


def _defaults(normalizer_fn):
  """conv_defs['defaults'] of MobileNet v2 with this normalizer."""
  defaults = {
      (slim.conv2d, slim.fully_connected, slim.separable_conv2d): {
          'normalizer_fn': normalizer_fn,
          'activation_fn': tf.nn.relu6,
      },
      (ops.expanded_conv,): {
          'expansion_size': expand_input(6),
          'split_expansion': 1,
          'normalizer_fn': normalizer_fn,
          'residual': True,
      },
      (slim.conv2d, slim.separable_conv2d): {'padding': 'SAME'},
  }
  if normalizer_fn is slim.batch_norm:
    # Part of the architecture (the checkpoint has gamma), so not left to
    # training_scope.
    defaults[(slim.batch_norm,)] = {'center': True, 'scale': True}
  return defaults


def _blocks(num_outputs, count, stride):
  """A stage: `count` inverted residuals (expansion 6, the defaults'), the
  first one with `stride`."""
  return [op(ops.expanded_conv, stride=stride if i == 0 else 1,
             num_outputs=num_outputs) for i in range(count)]


# (output channels, blocks, stride of the first) of each stage after the
# first block, which keeps its input width (no expansion layer).
_STAGES = [(24, 2, 2), (32, 3, 2), (64, 4, 2), (96, 3, 1), (160, 3, 2),
           (320, 1, 1)]

V2_DEF = dict(
    defaults=_defaults(slim.batch_norm),
    spec=([op(slim.conv2d, stride=2, num_outputs=32, kernel_size=[3, 3]),
           op(ops.expanded_conv,
              expansion_size=expand_input(1, divisible_by=1),
              num_outputs=16)] +
          [block for stage in _STAGES for block in _blocks(*stage)] +
          [op(slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=1280)]))
V2_DEF_GROUP_NORM = dict(defaults=_defaults(slim.group_norm),
                         spec=copy.deepcopy(V2_DEF['spec']))


@slim.add_arg_scope
def mobilenet(input_tensor, num_classes=1001, depth_multiplier=1.0,
              scope='MobilenetV2', conv_defs=None,
              finegrain_classification_mode=False, min_depth=None,
              divisible_by=None, activation_fn=None, **kwargs):
  """MobileNet v2 (inference mode unless built for training).

  Args:
    input_tensor: float Tensor [batch, height, width, 3].
    num_classes: logits width; 0 or None returns the pooled features
      [batch, 1, 1, 1280].
    depth_multiplier: width multiplier of every layer (channels rounded to
      multiples of divisible_by, at least min_depth).
    scope: variable scope.
    conv_defs: the network (default V2_DEF).
    finegrain_classification_mode: keep the last layer at 1280 channels
      when depth_multiplier < 1.
    min_depth, divisible_by: for the depth multiplier (None: 8, or what
      slim.arg_scope((mobilenet.depth_multiplier,), ...) says).
    activation_fn: of all layers (default ReLU6).
    **kwargs: for mobilenet.mobilenet: prediction_fn, reuse, base_only,
      use_reduce_mean_for_pooling, final_endpoint, output_stride,
      use_explicit_padding, is_training.

  Returns:
    (logits [batch, num_classes], end_points dict name -> Tensor).

  Raises:
    ValueError: for the generic `multiplier` argument.
  """
  if conv_defs is None:
    conv_defs = V2_DEF
  lib.check_no_generic_multiplier(kwargs)
  if finegrain_classification_mode:
    conv_defs = copy.deepcopy(conv_defs)
    if depth_multiplier < 1:
      # The multiplier scales it back to the full width.
      conv_defs['spec'][-1].params['num_outputs'] /= depth_multiplier
  if activation_fn:
    conv_defs = copy.deepcopy(conv_defs)
    conv_defs['defaults'][(slim.conv2d, slim.fully_connected,
                           slim.separable_conv2d)][
                               'activation_fn'] = activation_fn
  # Unset arguments must not override an enclosing arg_scope's.
  depth_args = lib.safe_arg_scope((lib.depth_multiplier,),
                                  min_depth=min_depth,
                                  divisible_by=divisible_by)
  with depth_args:
    return lib.mobilenet(input_tensor, num_classes=num_classes,
                         conv_defs=conv_defs, scope=scope,
                         multiplier=depth_multiplier, **kwargs)


mobilenet.default_image_size = 224


def wrapped_partial(func, *args, **kwargs):
  """functools.partial keeping func's name, docstring and attributes."""
  partial_func = functools.partial(func, *args, **kwargs)
  functools.update_wrapper(partial_func, func)
  return partial_func


# Published width multipliers; the thin ones keep the 1280-wide last layer.
mobilenet_v2_140 = wrapped_partial(mobilenet, depth_multiplier=1.4)
mobilenet_v2_050 = wrapped_partial(mobilenet, depth_multiplier=0.50,
                                   finegrain_classification_mode=True)
mobilenet_v2_035 = wrapped_partial(mobilenet, depth_multiplier=0.35,
                                   finegrain_classification_mode=True)


@slim.add_arg_scope
def mobilenet_base(input_tensor, depth_multiplier=1.0, **kwargs):
  """The network without pooling and logits: (layer_19 [batch, h / 32,
  w / 32, 1280], end_points); arguments as in `mobilenet`."""
  return mobilenet(input_tensor, depth_multiplier=depth_multiplier,
                   base_only=True, **kwargs)


@slim.add_arg_scope
def mobilenet_base_group_norm(input_tensor, depth_multiplier=1.0, groups=8,
                              **kwargs):
  """mobilenet_base with group normalisation (`groups` groups) instead of
  batch norm (variables `.../GroupNorm/beta`, `gamma`)."""
  conv_defs = copy.deepcopy(V2_DEF_GROUP_NORM)
  conv_defs['defaults'][(slim.group_norm,)] = {'groups': groups}
  kwargs['conv_defs'] = conv_defs
  return mobilenet_base(input_tensor, depth_multiplier=depth_multiplier,
                        **kwargs)


# research/slim's passes its keywords on to this one; the alias keeps them
# visible (the registry reads bn_decay from the signature).
training_scope = lib.training_scope


__all__ = ['training_scope', 'mobilenet_base', 'mobilenet', 'V2_DEF']
