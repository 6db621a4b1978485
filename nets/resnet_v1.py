"""ResNet v1 of the TF-Slim model zoo: batch norm *after* each convolution.

He et al., "Deep Residual Learning for Image Recognition" (arXiv:1512.03385),
with projection shortcuts only where the depth changes, as in MSRA's
ResNet-101/152. Variables and end points follow the published checkpoints
(scopes `resnet_v1_<depth>`); the arguments are research/slim's.

Classification, input [batch, 224, 224, 3]:

  with slim.arg_scope(resnet_v1.resnet_arg_scope()):
    logits, end_points = resnet_v1.resnet_v1_101(images, 1000,
                                                 is_training=False)

Dense prediction (features at 1/16 of a [batch, 513, 513, 3] input):

  net, end_points = resnet_v1.resnet_v1_101(images, 21, is_training=False,
                                            global_pool=False,
                                            output_stride=16)
"""

import contextlib

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import resnet_utils

resnet_arg_scope = resnet_utils.resnet_arg_scope
# research/slim's public no-op context manager (`with NoOpScope():`).
NoOpScope = contextlib.nullcontext


@slim.add_arg_scope
def bottleneck(inputs, depth, depth_bottleneck, stride, rate=1,
               outputs_collections=None, scope=None,
               use_bounded_activations=False):
  """The bottleneck residual unit, batch norm after the convolutions.

  1x1 (depth_bottleneck) -> 3x3 (depth_bottleneck, stride) -> 1x1 (depth),
  added to the shortcut: the input, subsampled, or a strided 1x1 projection
  where the depth changes.

  Args:
    inputs: Tensor [batch, height, width, channels].
    depth: output channels.
    depth_bottleneck: channels of the first two convolutions.
    stride: the unit's stride.
    rate: atrous rate of the 3x3 convolution.
    outputs_collections: collection to add the output to.
    scope: variable scope (default 'bottleneck_v1').
    use_bounded_activations: ReLU6 and a clipped residual, for quantised
      inference.

  Returns:
    Tensor [batch, ceil(height / stride), ceil(width / stride), depth].
  """
  with tf.variable_scope(scope, 'bottleneck_v1', [inputs]) as sc:
    depth_in = slim.utils.last_dimension(inputs.get_shape(), min_rank=4)
    if depth == depth_in:
      shortcut = resnet_utils.subsample(inputs, stride, 'shortcut')
    else:
      shortcut = slim.conv2d(
          inputs, depth, [1, 1], stride=stride,
          activation_fn=tf.nn.relu6 if use_bounded_activations else None,
          scope='shortcut')
    residual = slim.conv2d(inputs, depth_bottleneck, [1, 1], stride=1,
                           scope='conv1')
    residual = resnet_utils.conv2d_same(residual, depth_bottleneck, 3, stride,
                                        rate=rate, scope='conv2')
    residual = slim.conv2d(residual, depth, [1, 1], stride=1,
                           activation_fn=None, scope='conv3')
    if use_bounded_activations:
      residual = tf.clip_by_value(residual, -6.0, 6.0)
      output = tf.nn.relu6(shortcut + residual)
    else:
      output = tf.nn.relu(shortcut + residual)
    return slim.utils.collect_named_outputs(outputs_collections, sc.name,
                                            output)


def resnet_v1(inputs,
              blocks,
              num_classes=None,
              is_training=True,
              global_pool=True,
              output_stride=None,
              include_root_block=True,
              spatial_squeeze=True,
              store_non_strided_activations=False,
              reuse=None,
              scope=None):
  """Builds a ResNet v1 from its blocks.

  With global_pool=False the network is fully convolutional; inputs of side
  32k + 1 (e.g. 321) give outputs of side (side - 1) / output_stride + 1
  whose corners align with the input's.

  Args:
    inputs: Tensor [batch, height, width, channels].
    blocks: list of resnet_utils.Block, e.g. from resnet_v1_block.
    num_classes: logits width; 0 or None returns the features before the
      logits layer.
    is_training: batch-norm mode; None leaves it to an outer arg_scope.
    global_pool: average the last block's output to 1x1 (classification);
      False for dense prediction.
    output_stride: None, or the input/output resolution ratio wanted (a
      multiple of 4 with the root block); see stack_blocks_dense.
    include_root_block: whether to start with conv1 and pool1.
    spatial_squeeze: logits [batch, num_classes] instead of
      [batch, 1, 1, num_classes] (needs a 1x1 output).
    store_non_strided_activations: collect each block's output before its
      last subsampling; see stack_blocks_dense.
    reuse: whether to reuse the variables (scope must then be given).
    scope: variable scope (default 'resnet_v1').

  Returns:
    (net, end_points): net is the logits, [batch, num_classes] with
    spatial_squeeze else [batch, h, w, num_classes]; with no num_classes,
    the last block's output [batch, h, w, depth] (h = w = 1 after the
    global pool). end_points maps the layers' scope names, `global_pool`,
    `<scope>/logits`, `<scope>/spatial_squeeze` and `predictions` to their
    outputs.

  Raises:
    ValueError: if output_stride cannot be reached.
  """
  with resnet_utils.network_scope(inputs, scope, 'resnet_v1', bottleneck,
                                  is_training, reuse) as (sc, collection):
    net, output_stride = resnet_utils.root_block(inputs, output_stride,
                                                 include_root_block)
    net = resnet_utils.stack_blocks_dense(net, blocks, output_stride,
                                          store_non_strided_activations)
    return resnet_utils.classification_head(
        net, collection, num_classes, global_pool, spatial_squeeze, sc.name)


def resnet_v1_block(scope, base_depth, num_units, stride):
  """A block of `bottleneck` units; see resnet_utils.bottleneck_block."""
  return resnet_utils.bottleneck_block(scope, bottleneck, base_depth,
                                       num_units, stride)


def _resnet_v1_depth(num_layers, inputs, min_base_depth, depth_multiplier,
                     **kwargs):
  """ResNet-<num_layers> v1, base depths scaled by depth_multiplier."""
  blocks = resnet_utils.model_zoo_blocks(
      resnet_v1_block, num_layers,
      lambda d: max(int(d * depth_multiplier), min_base_depth))
  return resnet_v1(inputs, blocks, include_root_block=True, **kwargs)


# The depth functions keep research/slim's argument order, which differs
# between 50/101 and 152/200 (positional callers rely on it).
def resnet_v1_50(inputs, num_classes=None, is_training=True, global_pool=True,
                 output_stride=None, spatial_squeeze=True,
                 store_non_strided_activations=False, min_base_depth=8,
                 depth_multiplier=1, reuse=None, scope='resnet_v1_50'):
  """ResNet-50 (arXiv:1512.03385); see resnet_v1 for the arguments.

  min_base_depth and depth_multiplier scale the blocks' base depths
  (64..512) to max(int(d * depth_multiplier), min_base_depth).
  """
  return _resnet_v1_depth(50, **locals())


def resnet_v1_101(inputs, num_classes=None, is_training=True,
                  global_pool=True, output_stride=None, spatial_squeeze=True,
                  store_non_strided_activations=False, min_base_depth=8,
                  depth_multiplier=1, reuse=None, scope='resnet_v1_101'):
  """ResNet-101 (arXiv:1512.03385); see resnet_v1_50."""
  return _resnet_v1_depth(101, **locals())


def resnet_v1_152(inputs, num_classes=None, is_training=True,
                  global_pool=True, output_stride=None,
                  store_non_strided_activations=False, spatial_squeeze=True,
                  min_base_depth=8, depth_multiplier=1, reuse=None,
                  scope='resnet_v1_152'):
  """ResNet-152 (arXiv:1512.03385); see resnet_v1_50."""
  return _resnet_v1_depth(152, **locals())


def resnet_v1_200(inputs, num_classes=None, is_training=True,
                  global_pool=True, output_stride=None,
                  store_non_strided_activations=False, spatial_squeeze=True,
                  min_base_depth=8, depth_multiplier=1, reuse=None,
                  scope='resnet_v1_200'):
  """ResNet-200 (arXiv:1603.05027); see resnet_v1_50."""
  return _resnet_v1_depth(200, **locals())


for _network in (resnet_v1, resnet_v1_50, resnet_v1_101, resnet_v1_152,
                 resnet_v1_200):
  _network.default_image_size = 224
