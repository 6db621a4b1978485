"""MobileNet v2: inverted residuals and linear bottlenecks (Sandler et al.).

A 3x3 stride-2 convolution, 17 inverted-residual blocks (1x1 expansion by 6,
3x3 depthwise, linear 1x1 projection, ReLU6 inside) and a 1x1 convolution to
1280 channels, then global average pooling and 1x1-conv logits. Variable
names follow the published TF-Slim checkpoints (scope `MobilenetV2`), e.g.
`MobilenetV2/expanded_conv_3/expand/weights`.

`mobilenet_v2_140` and `mobilenet_v2_035` are the published width
multipliers 1.4 and 0.35 (the latter keeps the last layer at 1280 channels).
The blocks themselves live in mobilenet_blocks.py.
"""

import functools

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import mobilenet_blocks as blocks
from slimvision.nets.mobilenet_blocks import block
from slimvision.nets.mobilenet_blocks import conv

training_scope = blocks.training_scope

# Layers at depth multiplier 1.0, 224x224 input -> 7x7x1280 (stride 32).
V2_DEF = blocks.NetworkDef(
    layers=[
        conv(32, kernel_size=3, stride=2),
        block(1, 16),
        block(6, 24, stride=2),
        block(6, 24),
        block(6, 32, stride=2),
        block(6, 32),
        block(6, 32),
        block(6, 64, stride=2),
        block(6, 64),
        block(6, 64),
        block(6, 64),
        block(6, 96),
        block(6, 96),
        block(6, 96),
        block(6, 160, stride=2),
        block(6, 160),
        block(6, 160),
        block(6, 320),
        conv(1280, kernel_size=1),
    ],
    activation_fn=tf.nn.relu6)


def mobilenet_v2(images, num_classes=1001, is_training=None,
                 depth_multiplier=1.0, prediction_fn=slim.softmax,
                 reuse=None, scope='MobilenetV2', conv_defs=None,
                 finegrain_classification_mode=False, **options):
  """MobileNet v2 classifier.

  Args:
    images: float Tensor [batch, height, width, 3], 224x224 for the
      published checkpoints (other sizes work: the pooling is global).
    num_classes: logits width; 0 or None returns the pooled features
      [batch, 1, 1, 1280 * max(1, depth_multiplier)].
    is_training: batch norm and dropout mode; None leaves them to the
      enclosing arg_scope (`training_scope`).
    depth_multiplier: width multiplier of every layer (channel counts are
      rounded to multiples of 8, at least 8).
    prediction_fn: maps logits to the `Predictions` end point.
    reuse: whether to reuse the variables of `scope`.
    scope: variable scope.
    conv_defs: a `mobilenet_blocks.NetworkDef` replacing V2_DEF.
    finegrain_classification_mode: keep the last layer at 1280 channels when
      depth_multiplier < 1.
    **options: `mobilenet_blocks.mobilenet` options: dropout_keep_prob,
      base_only, min_depth, divisible_by, final_endpoint (`layer_<i>`),
      output_stride, use_explicit_padding.

  Returns:
    (logits [batch, num_classes], end_points dict name -> Tensor).
  """
  return blocks.mobilenet(
      images, conv_defs or V2_DEF, num_classes=num_classes,
      is_training=is_training, depth_multiplier=depth_multiplier,
      prediction_fn=prediction_fn, reuse=reuse, scope=scope,
      finegrain_classification_mode=finegrain_classification_mode,
      **options)


mobilenet_v2.default_image_size = 224


def mobilenet_v2_base(images, depth_multiplier=1.0, scope='MobilenetV2',
                      **options):
  """The MobileNet v2 feature extractor: (features, end_points), where the
  features are the last layer [batch, height / 32, width / 32, 1280]."""
  return blocks.mobilenet_base(images, options.pop('conv_defs', V2_DEF),
                               depth_multiplier=depth_multiplier,
                               scope=scope, **options)


def _variant(**defaults):
  fn = functools.partial(mobilenet_v2, **defaults)
  functools.update_wrapper(fn, mobilenet_v2)
  fn.default_image_size = mobilenet_v2.default_image_size
  return fn


mobilenet_v2_140 = _variant(depth_multiplier=1.4)
mobilenet_v2_035 = _variant(depth_multiplier=0.35,
                            finegrain_classification_mode=True)
