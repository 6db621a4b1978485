"""Building blocks shared by ResNet v1 and v2 (research/slim's resnet_utils).

He et al., "Deep Residual Learning for Image Recognition" (arXiv:1512.03385)
and "Identity Mappings in Deep Residual Networks" (arXiv:1603.05027).

A ResNet is a root block (7x7/2 convolution and 3x3/2 max pool), a list of
`Block`s of residual units stacked by `stack_blocks_dense`, and a head
(global average pool, 1x1 logits convolution). As in the TF-Slim model zoo,
each block subsamples in its *last* unit rather than its first: the same
result at less memory. `stack_blocks_dense` can instead keep the resolution
past a chosen `output_stride` with atrous convolution (dense prediction).
"""

import collections
import contextlib

import tensorflow.compat.v1 as tf
import tf_slim as slim


class Block(collections.namedtuple('Block', ['scope', 'unit_fn', 'args'])):
  """One ResNet block: `len(args)` residual units in variable scope `scope`.

  Attributes:
    scope: the block's variable scope, e.g. 'block1'.
    unit_fn: the residual unit, `unit_fn(net, rate=..., **args[i]) -> net`,
      e.g. resnet_v1.bottleneck.
    args: one keyword dict per unit, e.g. {'depth': 256,
      'depth_bottleneck': 64, 'stride': 1}.
  """


def bottleneck_block(scope, unit_fn, base_depth, num_units, stride):
  """A block of num_units bottleneck units, subsampling by `stride` last.

  Args:
    scope: the block's variable scope.
    unit_fn: the bottleneck unit (resnet_v1.bottleneck, resnet_v2.bottleneck).
    base_depth: depth of the bottleneck (3x3) layers; the units output
      4 * base_depth channels.
    num_units: number of residual units.
    stride: stride of the last unit (the others have stride 1).

  Returns:
    A `Block`.
  """
  unit = {'depth': base_depth * 4, 'depth_bottleneck': base_depth}
  return Block(scope, unit_fn,
               [dict(unit, stride=1) for _ in range(num_units - 1)] +
               [dict(unit, stride=stride)])


# Units per block of the model-zoo depths; the blocks' base depths are
# 64, 128, 256 and 512, and all but the last end with stride 2.
_UNITS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3),
          200: (3, 24, 36, 3)}


def model_zoo_blocks(block_fn, num_layers, base_depth_fn=int):
  """The four blocks of ResNet-<num_layers>, block1..block4.

  Args:
    block_fn: fn(scope, base_depth, num_units, stride) -> Block, e.g.
      resnet_v1.resnet_v1_block.
    num_layers: 50, 101, 152 or 200.
    base_depth_fn: maps each nominal base depth (64..512) to the one built.

  Returns:
    A list of 4 `Block`s: stride 8 in all, outputs 4 * 512 deep.
  """
  return [block_fn('block%d' % (i + 1), base_depth=base_depth_fn(base),
                   num_units=units, stride=1 if i == 3 else 2)
          for i, (base, units) in enumerate(zip((64, 128, 256, 512),
                                                _UNITS[num_layers]))]


def subsample(inputs, factor, scope=None):
  """Keeps every `factor`-th row and column.

  Args:
    inputs: Tensor [batch, height, width, channels].
    factor: subsampling factor; 1 returns `inputs` itself.
    scope: name of the 1x1 max-pool op.

  Returns:
    Tensor [batch, ceil(height / factor), ceil(width / factor), channels].
  """
  if factor == 1:
    return inputs
  return slim.max_pool2d(inputs, [1, 1], stride=factor, scope=scope)


def conv2d_same(inputs, num_outputs, kernel_size, stride, rate=1, scope=None):
  """A convolution with 'SAME' output size that does not depend on parity.

  slim.conv2d with stride > 1 and 'SAME' padding pads an even input more at
  the bottom/right than at the top/left; padding explicitly and symmetrically
  instead makes the result equal to a stride-1 'SAME' convolution followed by
  `subsample(net, stride)`, for odd and even inputs alike.

  Args:
    inputs: Tensor [batch, height, width, channels].
    num_outputs: output channels.
    kernel_size: int, the (square) kernel side.
    stride: int, the output stride.
    rate: int, atrous rate.
    scope: the layer's variable scope.

  Returns:
    Tensor [batch, ceil(height / stride), ceil(width / stride), num_outputs].
  """
  if stride == 1:
    return slim.conv2d(inputs, num_outputs, kernel_size, stride=1, rate=rate,
                       padding='SAME', scope=scope)
  effective_kernel = kernel_size + (kernel_size - 1) * (rate - 1)
  pad_begin = (effective_kernel - 1) // 2
  pad_end = effective_kernel - 1 - pad_begin
  inputs = tf.pad(inputs, [[0, 0], [pad_begin, pad_end],
                           [pad_begin, pad_end], [0, 0]])
  return slim.conv2d(inputs, num_outputs, kernel_size, stride=stride,
                     rate=rate, padding='VALID', scope=scope)


@slim.add_arg_scope
def stack_blocks_dense(net, blocks, output_stride=None,
                       store_non_strided_activations=False,
                       outputs_collections=None):
  """Stacks ResNet `Block`s, units in scopes '<block>/unit_<i>'.

  Once the product of the strides so far reaches `output_stride`, the later
  units run with stride 1 and a growing atrous rate instead, so the output
  keeps that resolution while every unit sees the same field of view.

  Args:
    net: Tensor [batch, height, width, channels].
    blocks: list of `Block`.
    output_stride: None for the nominal stride (the product of all unit
      strides); otherwise the input/output resolution ratio wanted, which
      must be a product of the leading unit strides (with strides 1, 2, 1, 3
      the valid values are 1, 2, 6 and None).
    store_non_strided_activations: if True, the last unit of each block runs
      with stride 1 and the block's output is subsampled after it is
      collected, so the collected block outputs are at the higher
      resolution (4x the cost of those units).
    outputs_collections: collection to add each block's output to, under
      the block's scope name.

  Returns:
    Tensor [batch, height / s, width / s, depth of the last unit], s being
    output_stride or the nominal stride.

  Raises:
    ValueError: if output_stride cannot be reached.
  """
  # current_stride: stride of `net` so far; rate: atrous rate for the units
  # whose stride was dropped to stay at output_stride.
  current_stride = 1
  rate = 1

  def check_stride():
    if output_stride is not None and current_stride > output_stride:
      raise ValueError('The target output_stride cannot be reached.')

  for block in blocks:
    with tf.variable_scope(block.scope, 'block', [net]) as sc:
      block_stride = 1
      for i, unit in enumerate(block.args):
        if store_non_strided_activations and i == len(block.args) - 1:
          # The block's stride moves to a subsample after the collection.
          block_stride = unit.get('stride', 1)
          unit = dict(unit, stride=1)
        with tf.variable_scope('unit_%d' % (i + 1), values=[net]):
          if output_stride is not None and current_stride == output_stride:
            net = block.unit_fn(net, rate=rate, **dict(unit, stride=1))
            rate *= unit.get('stride', 1)
          else:
            net = block.unit_fn(net, rate=1, **unit)
            current_stride *= unit.get('stride', 1)
            check_stride()
      net = slim.utils.collect_named_outputs(outputs_collections, sc.name, net)
      if output_stride is not None and current_stride == output_stride:
        rate *= block_stride
      else:
        net = subsample(net, block_stride)
        current_stride *= block_stride
        check_stride()
  if output_stride is not None and current_stride != output_stride:
    raise ValueError('The target output_stride cannot be reached.')
  return net


def resnet_arg_scope(
    weight_decay=0.0001,
    batch_norm_decay=0.997,
    batch_norm_epsilon=1e-5,
    batch_norm_scale=True,
    activation_fn=tf.nn.relu,
    use_batch_norm=True,
    batch_norm_updates_collections=tf.GraphKeys.UPDATE_OPS):
  """The arg_scope of the ResNets: He init, L2 decay, batch norm, SAME pool.

  Args:
    weight_decay: L2 regularisation of the convolution weights.
    batch_norm_decay: moving-average decay of the batch-norm statistics.
    batch_norm_epsilon: batch-norm variance epsilon.
    batch_norm_scale: whether batch norm has a `gamma` multiplier.
    activation_fn: the activation of the convolutions.
    use_batch_norm: whether convolutions are followed by batch norm.
    batch_norm_updates_collections: collection of the moving-average update
      ops (None: update in place).

  Returns:
    An arg_scope dict.
  """
  batch_norm_params = {
      'decay': batch_norm_decay,
      'epsilon': batch_norm_epsilon,
      'scale': batch_norm_scale,
      'updates_collections': batch_norm_updates_collections,
      'fused': None,  # Fused whenever the op supports it.
  }
  with slim.arg_scope(
      [slim.conv2d],
      weights_regularizer=slim.l2_regularizer(weight_decay),
      weights_initializer=slim.variance_scaling_initializer(),
      activation_fn=activation_fn,
      normalizer_fn=slim.batch_norm if use_batch_norm else None,
      normalizer_params=batch_norm_params):
    with slim.arg_scope([slim.batch_norm], **batch_norm_params):
      # SAME for pool1 keeps features aligned with the input corners (as in
      # fb.resnet.torch); the original Caffe models pool with VALID.
      with slim.arg_scope([slim.max_pool2d], padding='SAME') as arg_sc:
        return arg_sc


# --- The parts of resnet_v1 and resnet_v2 around their blocks ----------------


@contextlib.contextmanager
def network_scope(inputs, scope, default_name, unit_fn, is_training,
                  reuse=None):
  """Opens a ResNet's variable scope and its end-point collection.

  Inside, slim.conv2d, `unit_fn` and stack_blocks_dense add their outputs to
  the collection and batch norm runs in `is_training` mode (None: as an
  outer arg_scope says).

  Yields:
    (the variable scope, the end-point collection's name).
  """
  with tf.variable_scope(scope, default_name, [inputs], reuse=reuse) as sc:
    collection = sc.original_name_scope + '_end_points'
    with slim.arg_scope([slim.conv2d, unit_fn, stack_blocks_dense],
                        outputs_collections=collection):
      if is_training is None:
        yield sc, collection
      else:
        with slim.arg_scope([slim.batch_norm], is_training=is_training):
          yield sc, collection


def root_block(net, output_stride, include_root_block, **conv1_kwargs):
  """The 7x7/2 convolution `conv1` and 3x3/2 max pool `pool1` (stride 4).

  Args:
    net: Tensor [batch, height, width, channels].
    output_stride: the network's output_stride argument, or None.
    include_root_block: False skips the root block.
    **conv1_kwargs: overrides for conv1 (v2: no batch norm, no activation).

  Returns:
    (net [batch, ceil(height / 4), ceil(width / 4), 64], the output_stride
    that remains for the blocks).

  Raises:
    ValueError: if output_stride is not a multiple of 4.
  """
  if not include_root_block:
    return net, output_stride
  if output_stride is not None:
    if output_stride % 4 != 0:
      raise ValueError('The output_stride needs to be a multiple of 4.')
    output_stride //= 4
  with slim.arg_scope([slim.conv2d], **conv1_kwargs):
    net = conv2d_same(net, 64, 7, stride=2, scope='conv1')
  net = slim.max_pool2d(net, [3, 3], stride=2, scope='pool1')
  return net, output_stride


def classification_head(net, collection, num_classes, global_pool,
                        spatial_squeeze, scope_name):
  """Global pool and logits, and the network's end points.

  Args:
    net: the last block's features [batch, height, width, depth].
    collection: the network's end-point collection.
    num_classes: logits width; 0 or None: no logits layer.
    global_pool: whether to average net to [batch, 1, 1, depth] first.
    spatial_squeeze: whether logits drop their spatial axes.
    scope_name: the network's variable scope name.

  Returns:
    (net, end_points): logits [batch, num_classes] (spatial_squeeze) or
    [batch, h, w, num_classes]; with no num_classes, the (pooled) features.
    end_points: the collection's outputs by name, `global_pool`,
    `<scope>/logits`, `<scope>/spatial_squeeze` and `predictions`.
  """
  end_points = slim.utils.convert_collection_to_dict(collection)
  if global_pool:
    net = tf.reduce_mean(net, [1, 2], name='pool5', keepdims=True)
    end_points['global_pool'] = net
  if num_classes:
    net = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                      normalizer_fn=None, scope='logits')
    end_points[scope_name + '/logits'] = net
    if spatial_squeeze:
      net = tf.squeeze(net, [1, 2], name='SpatialSqueeze')
      end_points[scope_name + '/spatial_squeeze'] = net
    end_points['predictions'] = slim.softmax(net, scope='predictions')
  return net, end_points
