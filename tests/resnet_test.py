"""ResNet v1/v2 and resnet_utils with research/slim's arguments.

Code written against research/slim's `nets.resnet_utils`, `nets.resnet_v1`
and `nets.resnet_v2` runs with only its import prefix changed; the model-zoo
networks keep the published variables (fixtures/model_zoo).
"""

import inspect

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import resnet_utils
from slimvision.nets import resnet_v1
from slimvision.nets import resnet_v2

VERSIONS = [(resnet_v1.resnet_v1, resnet_v1.resnet_v1_block),
            (resnet_v2.resnet_v2, resnet_v2.resnet_v2_block)]


def _small_blocks(block_fn):
  """A 4-block ResNet of nominal stride 8 (with the root block: 32) whose
  outputs are 4, 8, 16 and 32 deep: quick to build."""
  return [block_fn('block1', base_depth=1, num_units=2, stride=2),
          block_fn('block2', base_depth=2, num_units=1, stride=2),
          block_fn('block3', base_depth=4, num_units=1, stride=2),
          block_fn('block4', base_depth=8, num_units=1, stride=1)]


def _build(resnet_fn, block_fn, shape, **kwargs):
  images = tf.placeholder(tf.float32, shape)
  with slim.arg_scope(resnet_utils.resnet_arg_scope()):
    return resnet_fn(images, _small_blocks(block_fn), scope='resnet',
                     **kwargs)


def _shapes(end_points, names):
  return {n: end_points[n].shape.as_list() for n in names}


def _variables(prefix=''):
  return [v.op.name for v in tf.global_variables()
          if v.op.name.startswith(prefix)]


# --- resnet_utils ----------------------------------------------------------


def _run(tensor):
  with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    return sess.run(tensor)


def test_subsample_keeps_every_factor_th_pixel():
  grid = np.arange(2 * 5 * 5 * 3, dtype=np.float32).reshape([2, 5, 5, 3])
  with tf.Graph().as_default():
    images = tf.constant(grid)
    assert resnet_utils.subsample(images, 1) is images
    np.testing.assert_array_equal(
        _run(resnet_utils.subsample(images, 2)), grid[:, ::2, ::2, :])


@pytest.mark.parametrize('side', [4, 5])
def test_conv2d_same_is_a_subsampled_stride_1_convolution(side):
  grid = np.arange(side * side, dtype=np.float32).reshape([1, side, side, 1])
  kernel = np.arange(9, dtype=np.float32).reshape([3, 3, 1, 1]) + 1
  with tf.Graph().as_default():
    images = tf.constant(grid)
    with slim.arg_scope([slim.conv2d], activation_fn=None,
                        weights_initializer=tf.constant_initializer(kernel),
                        biases_initializer=None):
      same = resnet_utils.conv2d_same(images, 1, 3, stride=2, scope='same')
      dense = resnet_utils.conv2d_same(images, 1, 3, stride=1, scope='dense')
      strided = slim.conv2d(images, 1, [3, 3], stride=2, scope='strided')
    same, dense, strided = _run([same, dense, strided])
  assert same.shape == (1, 3 if side == 5 else 2, 3 if side == 5 else 2, 1)
  np.testing.assert_array_equal(same, dense[:, ::2, ::2, :])
  # slim's own SAME stride-2 convolution pads an even input asymmetrically.
  assert np.array_equal(same, strided) == (side % 2 == 1)


@pytest.mark.parametrize('output_stride', [1, 2, 4, 8, None])
def test_stack_blocks_dense_atrous_matches_subsampled_nominal(output_stride):
  # Without batch norm the network is deterministic, so the dense (atrous)
  # features subsampled to the nominal stride equal the nominal features.
  blocks = [resnet_v1.resnet_v1_block('block%d' % i, base_depth=2,
                                      num_units=2, stride=2)
            for i in (1, 2, 3)]
  batch = np.random.RandomState(0).uniform(size=[2, 17, 17, 3])
  with tf.Graph().as_default():
    tf.set_random_seed(0)
    images = tf.constant(batch, tf.float32)
    with slim.arg_scope(resnet_utils.resnet_arg_scope(use_batch_norm=False)):
      with tf.variable_scope('net'):
        nominal = resnet_utils.stack_blocks_dense(images, blocks)
      with tf.variable_scope('net', reuse=True):
        dense = resnet_utils.stack_blocks_dense(images, blocks,
                                                output_stride)
    factor = 8 // (output_stride or 8)
    side = -(-17 // (output_stride or 8))  # ceil(17 / output_stride)
    assert dense.shape.as_list() == [2, side, side, 8]
    nominal, dense = _run([nominal, dense])
  np.testing.assert_allclose(nominal, dense[:, ::factor, ::factor, :],
                             rtol=1e-4, atol=1e-4)


def test_stack_blocks_dense_rejects_an_unreachable_output_stride():
  blocks = [resnet_v1.resnet_v1_block('block1', base_depth=1, num_units=1,
                                      stride=2)]
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 8, 8, 3])
    with pytest.raises(ValueError, match='output_stride cannot be reached'):
      resnet_utils.stack_blocks_dense(images, blocks, output_stride=4)
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 8, 8, 3])
    with pytest.raises(ValueError, match='multiple of 4'):
      _build(resnet_v1.resnet_v1, resnet_v1.resnet_v1_block, [1, 33, 33, 3],
             output_stride=6)


def test_resnet_arg_scope_options():
  images_shape = [1, 33, 33, 3]
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, images_shape)
    with slim.arg_scope(resnet_utils.resnet_arg_scope(
        activation_fn=tf.nn.relu6,
        batch_norm_updates_collections='my_updates')):
      resnet_v1.resnet_v1(images, _small_blocks(resnet_v1.resnet_v1_block),
                          scope='resnet')
    assert tf.get_collection('my_updates')
    assert not tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    ops = [op.type for op in tf.get_default_graph().get_operations()]
    assert 'Relu6' in ops
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, images_shape)
    with slim.arg_scope(resnet_utils.resnet_arg_scope(use_batch_norm=False)):
      resnet_v1.resnet_v1(images, _small_blocks(resnet_v1.resnet_v1_block),
                          scope='resnet')
    assert not [n for n in _variables() if 'BatchNorm' in n]
    assert 'resnet/conv1/biases' in _variables()


# --- The generic builders with small blocks ---------------------------------


@pytest.mark.parametrize('resnet_fn, block_fn', VERSIONS)
def test_classification_end_points(resnet_fn, block_fn):
  with tf.Graph().as_default():
    logits, end_points = _build(resnet_fn, block_fn, [2, 64, 64, 3],
                                num_classes=10)
    assert logits.shape.as_list() == [2, 10]
    assert logits.op.name == 'resnet/SpatialSqueeze'
    assert _shapes(end_points, ['resnet/logits', 'resnet/spatial_squeeze',
                                'predictions', 'global_pool']) == {
                                    'resnet/logits': [2, 1, 1, 10],
                                    'resnet/spatial_squeeze': [2, 10],
                                    'predictions': [2, 10],
                                    'global_pool': [2, 1, 1, 32]}
    assert end_points['resnet/spatial_squeeze'] is logits


@pytest.mark.parametrize('resnet_fn, block_fn', VERSIONS)
def test_block_end_points_without_global_pool(resnet_fn, block_fn):
  with tf.Graph().as_default():
    net, end_points = _build(resnet_fn, block_fn, [2, 65, 65, 3],
                             global_pool=False)
    blocks = ['resnet/block%d' % i for i in (1, 2, 3, 4)]
    # 65 -> 33 (conv1) -> 17 (pool1) -> 9, 5, 3 (blocks 1-3 stride 2) -> 3.
    assert _shapes(end_points, blocks) == {
        'resnet/block1': [2, 9, 9, 4], 'resnet/block2': [2, 5, 5, 8],
        'resnet/block3': [2, 3, 3, 16], 'resnet/block4': [2, 3, 3, 32]}
    assert net.shape.as_list() == [2, 3, 3, 32]
    for name in ('global_pool', 'predictions', 'resnet/logits'):
      assert name not in end_points
    assert not _variables('resnet/logits')


@pytest.mark.parametrize('resnet_fn, block_fn', VERSIONS)
def test_output_stride_8_keeps_the_resolution(resnet_fn, block_fn):
  with tf.Graph().as_default():
    logits, end_points = _build(resnet_fn, block_fn, [2, 65, 65, 3],
                                num_classes=10, global_pool=False,
                                spatial_squeeze=False, output_stride=8)
    # (65 - 1) / 8 + 1 = 9 from block2 on.
    assert logits.shape.as_list() == [2, 9, 9, 10]
    assert end_points['resnet/block1'].shape.as_list() == [2, 9, 9, 4]
    assert end_points['resnet/block4'].shape.as_list() == [2, 9, 9, 32]


@pytest.mark.parametrize('resnet_fn, block_fn', VERSIONS)
def test_spatial_squeeze_false_keeps_1x1_logits(resnet_fn, block_fn):
  with tf.Graph().as_default():
    logits, end_points = _build(resnet_fn, block_fn, [2, 64, 64, 3],
                                num_classes=10, spatial_squeeze=False)
    assert logits.shape.as_list() == [2, 1, 1, 10]
    assert end_points['resnet/logits'] is logits
    assert 'resnet/spatial_squeeze' not in end_points
    assert end_points['predictions'].shape.as_list() == [2, 1, 1, 10]


@pytest.mark.parametrize('resnet_fn, block_fn', VERSIONS)
def test_unknown_batch_and_size(resnet_fn, block_fn):
  with tf.Graph().as_default():
    logits, _ = _build(resnet_fn, block_fn, [None, 64, 64, 3], num_classes=10)
    assert logits.shape.as_list() == [None, 10]
  with tf.Graph().as_default():
    net, _ = _build(resnet_fn, block_fn, [None, None, None, 3])
    assert net.shape.as_list() == [None, 1, 1, 32]


@pytest.mark.parametrize('resnet_fn, block_fn', VERSIONS)
def test_without_root_block(resnet_fn, block_fn):
  with tf.Graph().as_default():
    net, end_points = _build(resnet_fn, block_fn, [2, 16, 16, 8],
                             global_pool=False, include_root_block=False)
    assert net.shape.as_list() == [2, 2, 2, 32]
    assert 'resnet/conv1' not in end_points
    assert not _variables('resnet/conv1')


@pytest.mark.parametrize('resnet_fn, block_fn', VERSIONS)
def test_reuse_creates_no_variables(resnet_fn, block_fn):
  with tf.Graph().as_default():
    _build(resnet_fn, block_fn, [2, 64, 64, 3], num_classes=10)
    count = len(tf.global_variables())
    _build(resnet_fn, block_fn, [1, 96, 96, 3], num_classes=10, reuse=True,
           is_training=False)
    assert len(tf.global_variables()) == count


def test_v1_store_non_strided_activations():
  with tf.Graph().as_default():
    net, end_points = _build(resnet_v1.resnet_v1, resnet_v1.resnet_v1_block,
                             [2, 65, 65, 3], global_pool=False,
                             store_non_strided_activations=True)
    # The blocks' outputs are collected before their last subsampling.
    assert _shapes(end_points, ['resnet/block1', 'resnet/block2',
                                'resnet/block3', 'resnet/block4']) == {
                                    'resnet/block1': [2, 17, 17, 4],
                                    'resnet/block2': [2, 9, 9, 8],
                                    'resnet/block3': [2, 5, 5, 16],
                                    'resnet/block4': [2, 3, 3, 32]}
    assert net.shape.as_list() == [2, 3, 3, 32]


def test_v1_is_training_none_defers_to_the_outer_arg_scope():
  with tf.Graph().as_default():
    with slim.arg_scope([slim.batch_norm], is_training=False):
      _build(resnet_v1.resnet_v1, resnet_v1.resnet_v1_block, [1, 33, 33, 3],
             is_training=None)
    assert not tf.get_collection(tf.GraphKeys.UPDATE_OPS)
  with tf.Graph().as_default():
    with slim.arg_scope([slim.batch_norm], is_training=False):
      _build(resnet_v1.resnet_v1, resnet_v1.resnet_v1_block, [1, 33, 33, 3])
    assert tf.get_collection(tf.GraphKeys.UPDATE_OPS)


def test_v2_has_preactivation_and_postnorm():
  with tf.Graph().as_default():
    _build(resnet_v2.resnet_v2, resnet_v2.resnet_v2_block, [1, 33, 33, 3])
    names = _variables()
    assert 'resnet/conv1/biases' in names  # No batch norm on conv1.
    assert 'resnet/postnorm/moving_mean' in names
    assert 'resnet/block1/unit_1/bottleneck_v2/preact/gamma' in names
    assert 'resnet/block1/unit_1/bottleneck_v2/conv3/biases' in names


# --- The model-zoo depths ---------------------------------------------------


@pytest.mark.parametrize('num_classes', [0, None])
def test_no_classes_returns_pooled_features(num_classes):
  with tf.Graph().as_default():
    net, end_points = _build(resnet_v1.resnet_v1, resnet_v1.resnet_v1_block,
                             [1, 64, 64, 3], num_classes=num_classes)
    assert net.shape.as_list() == [1, 1, 1, 32]
    assert end_points['global_pool'] is net
    assert 'predictions' not in end_points
    assert not _variables('resnet/logits')


def test_v1_depth_multiplier_and_min_base_depth():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 64, 64, 3])
    with slim.arg_scope(resnet_v1.resnet_arg_scope()):
      net, end_points = resnet_v1.resnet_v1_50(
          images, num_classes=0, depth_multiplier=0.25, min_base_depth=32)
    # Base depths max(int(d * 0.25), 32) for d = 64, 128, 256, 512; the
    # units output 4 times as many channels. conv1 keeps its 64.
    assert [end_points['resnet_v1_50/block%d' % i].shape[-1]
            for i in (1, 2, 3, 4)] == [128, 128, 256, 512]
    assert end_points['resnet_v1_50/conv1'].shape[-1] == 64
    assert net.shape.as_list() == [1, 1, 1, 512]
    assert end_points['global_pool'] is net
    assert not _variables('resnet_v1_50/logits')


def test_dense_prediction_options():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 65, 65, 3])
    with slim.arg_scope(resnet_v2.resnet_arg_scope()):
      logits, end_points = resnet_v2.resnet_v2_50(
          images, num_classes=5, global_pool=False, spatial_squeeze=False,
          output_stride=16)
    assert logits.shape.as_list() == [1, 5, 5, 5]
    assert 'global_pool' not in end_points
    assert 'resnet_v2_50/spatial_squeeze' not in end_points
    assert end_points['resnet_v2_50/logits'] is logits


# research/slim's argument order; positional callers depend on it.
_V1_50 = ['inputs', 'num_classes', 'is_training', 'global_pool',
          'output_stride', 'spatial_squeeze', 'store_non_strided_activations',
          'min_base_depth', 'depth_multiplier', 'reuse', 'scope']
_V1_152 = _V1_50[:5] + [_V1_50[6], _V1_50[5]] + _V1_50[7:]
_V2 = ['inputs', 'num_classes', 'is_training', 'global_pool',
       'output_stride', 'spatial_squeeze', 'reuse', 'scope']
SIGNATURES = [
    (resnet_v1.resnet_v1_50, _V1_50), (resnet_v1.resnet_v1_101, _V1_50),
    (resnet_v1.resnet_v1_152, _V1_152), (resnet_v1.resnet_v1_200, _V1_152),
    (resnet_v2.resnet_v2_50, _V2), (resnet_v2.resnet_v2_101, _V2),
    (resnet_v2.resnet_v2_152, _V2), (resnet_v2.resnet_v2_200, _V2),
    (resnet_v1.resnet_v1, ['inputs', 'blocks', 'num_classes', 'is_training',
                           'global_pool', 'output_stride',
                           'include_root_block', 'spatial_squeeze',
                           'store_non_strided_activations', 'reuse',
                           'scope']),
    (resnet_v2.resnet_v2, ['inputs', 'blocks', 'num_classes', 'is_training',
                           'global_pool', 'output_stride',
                           'include_root_block', 'spatial_squeeze', 'reuse',
                           'scope']),
    (resnet_utils.stack_blocks_dense,
     ['net', 'blocks', 'output_stride', 'store_non_strided_activations',
      'outputs_collections']),
    (resnet_utils.resnet_arg_scope,
     ['weight_decay', 'batch_norm_decay', 'batch_norm_epsilon',
      'batch_norm_scale', 'activation_fn', 'use_batch_norm',
      'batch_norm_updates_collections']),
]


@pytest.mark.parametrize('fn, params', SIGNATURES,
                         ids=[fn.__name__ for fn, _ in SIGNATURES])
def test_signatures_are_research_slims(fn, params):
  assert list(inspect.signature(fn).parameters) == params
  assert getattr(fn, 'default_image_size', 224) == 224


def test_depth_functions_default_scope_and_size():
  for module, version in ((resnet_v1, 'v1'), (resnet_v2, 'v2')):
    for depth in (50, 101, 152, 200):
      fn = getattr(module, 'resnet_%s_%d' % (version, depth))
      assert fn.default_image_size == 224
      assert inspect.signature(fn).parameters['scope'].default == (
          'resnet_%s_%d' % (version, depth))


# The model-zoo names (resnet_v1_50 ... resnet_v2_200) are checked against
# their manifests, variable by variable, in nets_factory_test.py.


def test_no_op_scope_is_research_slims():
  with resnet_v1.NoOpScope() as entered:
    with tf.Graph().as_default():
      assert tf.get_variable_scope().name == ''
  assert entered is None
