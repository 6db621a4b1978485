"""ResNet v2 of the TF-Slim model zoo: pre-activation residual units.

He et al., "Identity Mappings in Deep Residual Networks" (arXiv:1603.05027):
batch norm and ReLU come *before* each convolution (`preact`), so the
shortcuts are pure identities; conv1 has neither and a final `postnorm`
batch norm follows the last block. Variables and end points follow the
published checkpoints (scopes `resnet_v2_<depth>`); the arguments are
research/slim's. Usage as in resnet_v1:

  with slim.arg_scope(resnet_v2.resnet_arg_scope()):
    logits, end_points = resnet_v2.resnet_v2_50(images, 1000)
"""

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import resnet_utils

resnet_arg_scope = resnet_utils.resnet_arg_scope


@slim.add_arg_scope
def bottleneck(inputs, depth, depth_bottleneck, stride, rate=1,
               outputs_collections=None, scope=None):
  """The pre-activation bottleneck unit.

  preact = ReLU(BN(inputs)); preact -> 1x1 (depth_bottleneck) -> 3x3
  (depth_bottleneck, stride) -> 1x1 (depth, no BN) added to the shortcut:
  the input subsampled, or a strided 1x1 projection of preact where the depth
  changes.

  Args:
    inputs: Tensor [batch, height, width, channels].
    depth: output channels.
    depth_bottleneck: channels of the first two convolutions.
    stride: the unit's stride.
    rate: atrous rate of the 3x3 convolution.
    outputs_collections: collection to add the output to.
    scope: variable scope (default 'bottleneck_v2').

  Returns:
    Tensor [batch, ceil(height / stride), ceil(width / stride), depth].
  """
  with tf.variable_scope(scope, 'bottleneck_v2', [inputs]) as sc:
    depth_in = slim.utils.last_dimension(inputs.get_shape(), min_rank=4)
    preact = slim.batch_norm(inputs, activation_fn=tf.nn.relu, scope='preact')
    if depth == depth_in:
      shortcut = resnet_utils.subsample(inputs, stride, 'shortcut')
    else:
      shortcut = slim.conv2d(preact, depth, [1, 1], stride=stride,
                             normalizer_fn=None, activation_fn=None,
                             scope='shortcut')
    residual = slim.conv2d(preact, depth_bottleneck, [1, 1], stride=1,
                           scope='conv1')
    residual = resnet_utils.conv2d_same(residual, depth_bottleneck, 3, stride,
                                        rate=rate, scope='conv2')
    residual = slim.conv2d(residual, depth, [1, 1], stride=1,
                           normalizer_fn=None, activation_fn=None,
                           scope='conv3')
    return slim.utils.collect_named_outputs(outputs_collections, sc.name,
                                            shortcut + residual)


def resnet_v2(inputs,
              blocks,
              num_classes=None,
              is_training=True,
              global_pool=True,
              output_stride=None,
              include_root_block=True,
              spatial_squeeze=True,
              reuse=None,
              scope=None):
  """Builds a ResNet v2 from its blocks.

  Args:
    inputs: Tensor [batch, height, width, channels]; without the root block,
      the output of a convolution with no activation.
    blocks: list of resnet_utils.Block, e.g. from resnet_v2_block.
    num_classes: logits width; 0 or None returns the features before the
      logits layer.
    is_training: batch-norm mode.
    global_pool: average the features to 1x1 (classification); False for
      dense prediction.
    output_stride: None, or the input/output resolution ratio wanted (a
      multiple of 4 with the root block); see stack_blocks_dense.
    include_root_block: whether to start with conv1 and pool1.
    spatial_squeeze: logits [batch, num_classes] instead of
      [batch, 1, 1, num_classes] (needs a 1x1 output).
    reuse: whether to reuse the variables (scope must then be given).
    scope: variable scope (default 'resnet_v2').

  Returns:
    (net, end_points) as in resnet_v1.resnet_v1; the features are those
    after `postnorm`.

  Raises:
    ValueError: if output_stride cannot be reached.
  """
  with resnet_utils.network_scope(inputs, scope, 'resnet_v2', bottleneck,
                                  is_training, reuse) as (sc, collection):
    # conv1 has no batch norm nor activation: the first unit's preact does
    # both (appendix of arXiv:1603.05027).
    net, output_stride = resnet_utils.root_block(
        inputs, output_stride, include_root_block, activation_fn=None,
        normalizer_fn=None)
    net = resnet_utils.stack_blocks_dense(net, blocks, output_stride)
    # The units end with an addition; normalise and activate once at the end.
    net = slim.batch_norm(net, activation_fn=tf.nn.relu, scope='postnorm')
    return resnet_utils.classification_head(
        net, collection, num_classes, global_pool, spatial_squeeze, sc.name)


def resnet_v2_block(scope, base_depth, num_units, stride):
  """A block of `bottleneck` units; see resnet_utils.bottleneck_block."""
  return resnet_utils.bottleneck_block(scope, bottleneck, base_depth,
                                       num_units, stride)


def _resnet_v2_depth(num_layers, inputs, **kwargs):
  """ResNet-<num_layers> v2."""
  blocks = resnet_utils.model_zoo_blocks(resnet_v2_block, num_layers)
  return resnet_v2(inputs, blocks, include_root_block=True, **kwargs)


def resnet_v2_50(inputs, num_classes=None, is_training=True, global_pool=True,
                 output_stride=None, spatial_squeeze=True, reuse=None,
                 scope='resnet_v2_50'):
  """ResNet-50 v2; see resnet_v2 for the arguments."""
  return _resnet_v2_depth(50, **locals())


def resnet_v2_101(inputs, num_classes=None, is_training=True,
                  global_pool=True, output_stride=None, spatial_squeeze=True,
                  reuse=None, scope='resnet_v2_101'):
  """ResNet-101 v2; see resnet_v2 for the arguments."""
  return _resnet_v2_depth(101, **locals())


def resnet_v2_152(inputs, num_classes=None, is_training=True,
                  global_pool=True, output_stride=None, spatial_squeeze=True,
                  reuse=None, scope='resnet_v2_152'):
  """ResNet-152 v2; see resnet_v2 for the arguments."""
  return _resnet_v2_depth(152, **locals())


def resnet_v2_200(inputs, num_classes=None, is_training=True,
                  global_pool=True, output_stride=None, spatial_squeeze=True,
                  reuse=None, scope='resnet_v2_200'):
  """ResNet-200 v2; see resnet_v2 for the arguments."""
  return _resnet_v2_depth(200, **locals())


for _network in (resnet_v2, resnet_v2_50, resnet_v2_101, resnet_v2_152,
                 resnet_v2_200):
  _network.default_image_size = 224
