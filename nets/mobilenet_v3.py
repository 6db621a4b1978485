"""MobileNet v3 (Howard et al., 2019) and MobileNet-EdgeTPU.

MobileNet v3 adds to the v2 inverted-residual block 5x5 kernels,
squeeze-and-excite and the hard-swish activation, and ends with a cheaper
head: 1x1 conv, pool to 1x1, then a 1x1 conv without batch norm (`Conv_2`).
The "minimalistic" variants drop squeeze-and-excite, 5x5 kernels and
hard-swish (ReLU and 3x3 only). MobileNet-EdgeTPU replaces the early blocks
by "fused" blocks (a full 3x3 conv for expansion, no depthwise conv), which
run faster on the Edge TPU.

Scopes follow the published TF-Slim checkpoints: `MobilenetV3/...` and
`MobilenetEdgeTPU/...`, e.g. `MobilenetV3/expanded_conv_3/squeeze_excite/
Conv/weights`. The blocks live in mobilenet_blocks.py.
"""

import functools

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import mobilenet_blocks as blocks
from slimvision.nets.mobilenet_blocks import block
from slimvision.nets.mobilenet_blocks import conv

training_scope = blocks.training_scope

hard_swish = blocks.hard_swish
relu = tf.nn.relu


def _se_block(expansion, num_outputs, kernel_size, stride=1,
              activation_fn=relu):
  return block(expansion, num_outputs, kernel_size, stride, activation_fn,
               squeeze_excite=True)


def _head(last_conv, final_conv, activation_fn):
  return [
      conv(last_conv, kernel_size=1, activation_fn=activation_fn),
      blocks.ReduceTo1x1(),
      conv(final_conv, kernel_size=1, activation_fn=activation_fn,
           batch_norm=False),
  ]


# 224x224 -> 7x7x960 -> 1x1x1280.
V3_LARGE = blocks.NetworkDef(
    layers=[
        conv(16, kernel_size=3, stride=2, activation_fn=hard_swish),
        block(1, 16, 3),
        block(4, 24, 3, stride=2),
        block(3, 24, 3),
        _se_block(3, 40, 5, stride=2),
        _se_block(3, 40, 5),
        _se_block(3, 40, 5),
        block(6, 80, 3, stride=2, activation_fn=hard_swish),
        block(2.5, 80, 3, activation_fn=hard_swish),
        block(184 / 80., 80, 3, activation_fn=hard_swish),
        block(184 / 80., 80, 3, activation_fn=hard_swish),
        _se_block(6, 112, 3, activation_fn=hard_swish),
        _se_block(6, 112, 3, activation_fn=hard_swish),
        _se_block(6, 160, 5, stride=2, activation_fn=hard_swish),
        _se_block(6, 160, 5, activation_fn=hard_swish),
        _se_block(6, 160, 5, activation_fn=hard_swish),
    ] + _head(960, 1280, hard_swish),
    activation_fn=relu)

# 224x224 -> 7x7x576 -> 1x1x1024.
V3_SMALL = blocks.NetworkDef(
    layers=[
        conv(16, kernel_size=3, stride=2, activation_fn=hard_swish),
        _se_block(1, 16, 3, stride=2),
        block(72 / 16., 24, 3, stride=2),
        block(88 / 24., 24, 3),
        _se_block(4, 40, 5, stride=2, activation_fn=hard_swish),
        _se_block(6, 40, 5, activation_fn=hard_swish),
        _se_block(6, 40, 5, activation_fn=hard_swish),
        _se_block(3, 48, 5, activation_fn=hard_swish),
        _se_block(3, 48, 5, activation_fn=hard_swish),
        _se_block(6, 96, 5, stride=2, activation_fn=hard_swish),
        _se_block(6, 96, 5, activation_fn=hard_swish),
        _se_block(6, 96, 5, activation_fn=hard_swish),
    ] + _head(576, 1024, hard_swish),
    activation_fn=relu)


def _minimalistic(network_def):
  """The network without squeeze-and-excite, 5x5 kernels and hard-swish."""
  layers = []
  for layer in network_def.layers:
    if isinstance(layer, blocks.Block):
      layer = layer._replace(kernel_size=[3, 3], squeeze_excite=False,
                             activation_fn=None)
    elif isinstance(layer, blocks.Conv):
      layer = layer._replace(activation_fn=None)
    layers.append(layer)
  return blocks.NetworkDef(layers=layers, activation_fn=relu)


V3_LARGE_MINIMALISTIC = _minimalistic(V3_LARGE)
V3_SMALL_MINIMALISTIC = _minimalistic(V3_SMALL)


def _fused(expansion, num_outputs, stride=1, residual=True):
  return block(expansion, num_outputs, 3, stride, fused=True,
               residual=residual)


# 224x224 -> 7x7x1280, ReLU throughout.
V3_EDGETPU = blocks.NetworkDef(
    layers=[
        conv(32, kernel_size=3, stride=2),
        _fused(1, 16, residual=False),
        _fused(8, 32, stride=2),
        _fused(4, 32),
        _fused(4, 32),
        _fused(4, 32),
        _fused(8, 48, stride=2),
        _fused(4, 48),
        _fused(4, 48),
        _fused(4, 48),
        block(8, 96, 3, stride=2),
        block(4, 96, 3),
        block(4, 96, 3),
        block(4, 96, 3),
        # No shortcut here in the published EdgeTPU graph (research/slim).
        block(8, 96, 3, residual=False),
        block(4, 96, 3),
        block(4, 96, 3),
        block(4, 96, 3),
        block(8, 160, 5, stride=2),
        block(4, 160, 5),
        block(4, 160, 5),
        block(4, 160, 5),
        block(8, 192, 3),
        conv(1280, kernel_size=1),
    ],
    activation_fn=relu)


def mobilenet(images, num_classes=1001, is_training=None,
              depth_multiplier=1.0, prediction_fn=slim.softmax, reuse=None,
              scope='MobilenetV3', conv_defs=None,
              finegrain_classification_mode=False, **options):
  """A MobileNet v3-style classifier for the layers `conv_defs`.

  Args:
    images: float Tensor [batch, height, width, 3], 224x224 for the
      published checkpoints.
    num_classes: logits width; 0 or None returns the pooled features
      [batch, 1, 1, channels].
    is_training: batch norm and dropout mode; None leaves them to the
      enclosing arg_scope (`training_scope`).
    depth_multiplier: width multiplier (channels rounded to multiples of 8).
    prediction_fn: maps logits to the `Predictions` end point.
    reuse: whether to reuse the variables of `scope`.
    scope: variable scope.
    conv_defs: a `mobilenet_blocks.NetworkDef`; default V3_LARGE.
    finegrain_classification_mode: keep the last layer at full width when
      depth_multiplier < 1.
    **options: `mobilenet_blocks.mobilenet` options: dropout_keep_prob,
      base_only, min_depth, divisible_by, final_endpoint (`layer_<i>`),
      output_stride, use_explicit_padding.

  Returns:
    (logits [batch, num_classes], end_points dict name -> Tensor).
  """
  return blocks.mobilenet(
      images, conv_defs or V3_LARGE, num_classes=num_classes,
      is_training=is_training, depth_multiplier=depth_multiplier,
      prediction_fn=prediction_fn, reuse=reuse, scope=scope,
      finegrain_classification_mode=finegrain_classification_mode,
      **options)


mobilenet.default_image_size = 224


def _variant(name, **defaults):
  fn = functools.partial(mobilenet, **defaults)
  functools.update_wrapper(fn, mobilenet)
  fn.__name__ = fn.__qualname__ = name
  fn.default_image_size = mobilenet.default_image_size
  return fn


large = _variant('large', conv_defs=V3_LARGE)
small = _variant('small', conv_defs=V3_SMALL)
large_minimalistic = _variant('large_minimalistic',
                              conv_defs=V3_LARGE_MINIMALISTIC)
small_minimalistic = _variant('small_minimalistic',
                              conv_defs=V3_SMALL_MINIMALISTIC)
edge_tpu = _variant('edge_tpu', conv_defs=V3_EDGETPU,
                    scope='MobilenetEdgeTPU')
edge_tpu_075 = _variant('edge_tpu_075', conv_defs=V3_EDGETPU,
                        scope='MobilenetEdgeTPU', depth_multiplier=0.75,
                        finegrain_classification_mode=True)
