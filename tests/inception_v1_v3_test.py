"""Inception v1, v2 and v3 with research/slim's arguments and names.

Graph construction only. The manifest checks build at the published input
size; the other tests use inputs as small as the network allows.
"""

import inspect

import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from conftest import assert_matches_manifest, load_manifest
from slimvision.nets import inception_v1
from slimvision.nets import inception_v2
from slimvision.nets import inception_v3
from slimvision.nets import nets_factory

MODULES = {'inception_v1': inception_v1, 'inception_v2': inception_v2,
           'inception_v3': inception_v3}


def _network(name):
  module = MODULES[name]
  return (getattr(module, name), getattr(module, name + '_base'),
          getattr(module, name + '_arg_scope'))


def _names(part):
  return [v.op.name for v in tf.global_variables() if part in v.op.name]


# These networks' manifest test (nets_factory_test leaves them here); it
# builds through the factory. Exported graphs are read by the head's op
# names, which research/slim sets.
MANIFEST_NETWORKS = ('inception_v1', 'inception_v2', 'inception_v3')


@pytest.mark.parametrize('name,pool_op,predictions_op', [
    ('inception_v1', 'InceptionV1/Logits/AvgPool_0a_7x7/AvgPool',
     'InceptionV1/Logits/Predictions/Reshape_1'),
    ('inception_v2', 'InceptionV2/Logits/AvgPool_1a_7x7/AvgPool',
     'InceptionV2/Predictions/Reshape_1'),
    pytest.param('inception_v3', 'InceptionV3/Logits/AvgPool_1a_8x8/AvgPool',
                 'InceptionV3/Predictions/Reshape_1',
                 marks=pytest.mark.slow)])
def test_matches_the_model_zoo_manifest(name, pool_op, predictions_op):
  manifest = load_manifest(name)
  network, _, arg_scope = _network(name)
  spec = nets_factory.model_spec(name)
  assert spec.network() is network and spec.arg_scope() is arg_scope
  with tf.Graph().as_default():
    tf.train.get_or_create_global_step()
    images = tf.placeholder(tf.float32, manifest['input_shape'])
    logits, end_points = nets_factory.get_network_fn(
        name, manifest['num_classes'], is_training=True)(images)
    assert_matches_manifest(manifest, logits, end_points)
    pool = end_points.get('AvgPool_0a_7x7', end_points.get('AvgPool_1a'))
    assert pool.op.name == pool_op
    assert end_points['Predictions'].op.name == predictions_op
  assert network.default_image_size == manifest['image_size']


@pytest.mark.parametrize('name,size,depth', [
    ('inception_v1', 64, 1024), ('inception_v2', 64, 1024),
    ('inception_v3', 139, 2048)])
def test_without_classes_returns_the_pre_logits_pool(name, size, depth):
  network, _, _ = _network(name)
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [2, size, size, 3])
    net, end_points = network(images, num_classes=None)
    # The fixed pool is clipped to the small last map.
    assert net.shape.as_list() == [2, 1, 1, depth]
    assert net is end_points.get('AvgPool_0a_7x7', end_points.get(
        'AvgPool_1a'))
    assert not _names('Logits') and not _names('AuxLogits')
    assert not {'Logits', 'Predictions', 'PreLogits', 'AuxLogits'} & set(
        end_points)


@pytest.mark.parametrize('name,size,fixed', [
    ('inception_v1', 320, [2, 4, 4, 7]),  # 10x10 map, 7x7 stride-1 pool.
    # 11x11 map, 8x8 stride-2 pool.
    pytest.param('inception_v3', 400, [2, 2, 2, 7], marks=pytest.mark.slow)])
def test_global_pool_on_a_larger_input(name, size, fixed):
  network, _, _ = _network(name)
  kwargs = {'create_aux_logits': False} if name == 'inception_v3' else {}
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [2, size, size, 3])
    logits, end_points = network(images, num_classes=7, global_pool=True,
                                 spatial_squeeze=False, scope='Pooled',
                                 **kwargs)
    assert logits.shape.as_list() == [2, 1, 1, 7]
    assert end_points['global_pool'].shape.as_list()[1:3] == [1, 1]
    logits, _ = network(images, num_classes=7, spatial_squeeze=False,
                        scope='Fixed', **kwargs)
    assert logits.shape.as_list() == fixed


def test_unknown_input_size_global_pool():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [None, None, None, 3])
    logits, end_points = inception_v2.inception_v2(images, num_classes=5,
                                                  global_pool=True)
    assert logits.shape.as_list() == [None, 5]
    assert end_points['global_pool'].shape.as_list() == [None, 1, 1, 1024]


def test_v1_without_the_root_block():
  with tf.Graph().as_default():
    features = tf.placeholder(tf.float32, [2, 28, 28, 192])
    net, end_points = inception_v1.inception_v1_base(
        features, include_root_block=False)
    assert net.shape.as_list() == [2, 7, 7, 1024]
    assert list(end_points)[0] == 'Mixed_3b'
    assert 'Conv2d_1a_7x7' not in end_points
    assert _names('InceptionV1/Mixed_3b/Branch_0/Conv2d_0a_1x1/weights')
    assert not _names('Conv2d_1a_7x7')
    with pytest.raises(ValueError, match='Unknown final endpoint'):
      inception_v1.inception_v1_base(features, include_root_block=False,
                                     final_endpoint='Conv2d_1a_7x7',
                                     scope='Again')


def test_v2_root_block_options():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [2, 64, 64, 3])
    net, end_points = inception_v2.inception_v2_base(
        images, use_separable_conv=False, final_endpoint='MaxPool_3a_3x3',
        scope='Plain')
    assert net.shape.as_list() == [2, 8, 8, 192]
    assert [v.shape.as_list() for v in tf.global_variables()
            if v.op.name.startswith('Plain/Conv2d_1a_7x7/weights')] == [
                [7, 7, 3, 64]]
    inception_v2.inception_v2_base(images, final_endpoint='Conv2d_1a_7x7',
                                   scope='Separable')
    # Depthwise multiplier min(64 // 3, 8): 3 x 8 maps, then 1x1 to 64.
    assert {v.op.name.split('/')[-1]: v.shape.as_list()
            for v in tf.global_variables()
            if v.op.name.startswith('Separable/')} == {
                'depthwise_weights': [7, 7, 3, 8],
                'pointwise_weights': [1, 1, 24, 64], 'biases': [64]}
    features = tf.placeholder(tf.float32, [2, 28, 28, 192])
    net, end_points = inception_v2.inception_v2_base(
        features, include_root_block=False, scope='NoRoot')
    assert net.shape.as_list() == [2, 7, 7, 1024]
    assert 'MaxPool_3a_3x3' not in end_points


def test_v2_nchw():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [2, 3, 64, 64])
    with slim.arg_scope(inception_v2.inception_v2_arg_scope()):
      net, end_points = inception_v2.inception_v2_base(
          images, use_separable_conv=False, data_format='NCHW')
    assert net.shape.as_list() == [2, 1024, 2, 2]
    assert end_points['Mixed_3c'].shape.as_list() == [2, 320, 8, 8]
    # Batch norm normalises the channels (axis 1) too.
    assert [v.shape.as_list() for v in tf.global_variables()
            if v.op.name == 'InceptionV2/Mixed_3b/Branch_3/Conv2d_0b_1x1/'
            'BatchNorm/beta'] == [[32]]
    with pytest.raises(ValueError, match='separable convolution only'):
      inception_v2.inception_v2_base(images, data_format='NCHW')
    with pytest.raises(ValueError, match='data_format must be'):
      inception_v2.inception_v2_base(images, data_format='CHWN')


@pytest.mark.slow
def test_final_endpoints_in_order():
  expected = {
      'inception_v1': ['Conv2d_1a_7x7', 'MaxPool_2a_3x3', 'Conv2d_2b_1x1',
                       'Conv2d_2c_3x3', 'MaxPool_3a_3x3', 'Mixed_3b',
                       'Mixed_3c', 'MaxPool_4a_3x3', 'Mixed_4b', 'Mixed_4c',
                       'Mixed_4d', 'Mixed_4e', 'Mixed_4f', 'MaxPool_5a_2x2',
                       'Mixed_5b', 'Mixed_5c'],
      'inception_v3': ['Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3',
                       'MaxPool_3a_3x3', 'Conv2d_3b_1x1', 'Conv2d_4a_3x3',
                       'MaxPool_5a_3x3', 'Mixed_5b', 'Mixed_5c', 'Mixed_5d',
                       'Mixed_6a', 'Mixed_6b', 'Mixed_6c', 'Mixed_6d',
                       'Mixed_6e', 'Mixed_7a', 'Mixed_7b', 'Mixed_7c'],
  }
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 75, 75, 3])
    _, end_points = inception_v1.inception_v1_base(images)
    assert list(end_points) == expected['inception_v1']
    _, end_points = inception_v3.inception_v3_base(images)
    assert list(end_points) == expected['inception_v3']
    net, end_points = inception_v3.inception_v3_base(
        images, final_endpoint='Mixed_5b', scope='Early')
    assert list(end_points) == expected['inception_v3'][:8]
    assert net is end_points['Mixed_5b']
    assert net.shape.as_list() == [1, 7, 7, 256]
    with pytest.raises(ValueError, match='Unknown final endpoint'):
      inception_v3.inception_v3_base(images, final_endpoint='Mixed_8a')


@pytest.mark.slow
def test_depth_multiplier_and_min_depth():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 75, 75, 3])
    net, end_points = inception_v3.inception_v3_base(
        images, depth_multiplier=0.5)
    assert net.shape.as_list()[-1] == 1024
    assert end_points['Conv2d_1a_3x3'].shape.as_list()[-1] == 16
    net, end_points = inception_v2.inception_v2_base(
        images, depth_multiplier=0.1, min_depth=16, scope='Thin')
    assert end_points['Conv2d_2c_3x3'].shape.as_list()[-1] == 19
    assert end_points['Mixed_3b'].shape.as_list()[-1] == 16 * 4
    for fn in (inception_v2.inception_v2, inception_v3.inception_v3,
               inception_v3.inception_v3_base):
      with pytest.raises(ValueError, match='depth_multiplier'):
        fn(images, depth_multiplier=0)


@pytest.mark.slow
def test_v3_auxiliary_logits():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [2, 139, 139, 3])
    logits, end_points = inception_v3.inception_v3(images, num_classes=5)
    assert end_points['AuxLogits'].shape.as_list() == [2, 5]
    assert logits.shape.as_list() == [2, 5]
    # Mixed_6e is 7x7 here: the last aux conv shrinks to its 1x1 input.
    assert _names('InceptionV3/AuxLogits/Conv2d_2a_1x1/weights')
    _, end_points = inception_v3.inception_v3(
        images, num_classes=5, create_aux_logits=False, scope='NoAux')
    assert 'AuxLogits' not in end_points
    assert not _names('NoAux/AuxLogits')


def test_reuse_builds_no_new_variables():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 64, 64, 3])
    inception_v1.inception_v1(images, num_classes=3)
    count = len(tf.global_variables())
    logits, _ = inception_v1.inception_v1(images, num_classes=3, reuse=True,
                                          is_training=False)
    assert len(tf.global_variables()) == count
    assert logits.shape.as_list() == [1, 3]


def test_arg_scope_options():
  # research/slim's inception_utils.inception_arg_scope.
  params = list(inspect.signature(
      inception_v3.inception_v3_arg_scope).parameters)
  assert params == ['weight_decay', 'use_batch_norm', 'batch_norm_decay',
                    'batch_norm_epsilon', 'activation_fn',
                    'batch_norm_updates_collections', 'batch_norm_scale']
  assert inception_v1.inception_v1_arg_scope is (
      inception_v2.inception_v2_arg_scope)
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 64, 64, 3])
    with slim.arg_scope(inception_v1.inception_v1_arg_scope(
        batch_norm_scale=True, batch_norm_decay=0.9, weight_decay=1e-3)):
      inception_v1.inception_v1_base(images, final_endpoint='Conv2d_2b_1x1')
    assert _names('Conv2d_1a_7x7/BatchNorm/gamma')
    assert len(tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)) == 2
    with slim.arg_scope(inception_v1.inception_v1_arg_scope(
        use_batch_norm=False)):
      inception_v1.inception_v1_base(images, final_endpoint='Conv2d_1a_7x7',
                                     scope='NoBatchNorm')
    assert _names('NoBatchNorm/Conv2d_1a_7x7/biases')
    assert not _names('NoBatchNorm/Conv2d_1a_7x7/BatchNorm')


def test_signatures_match_research_slim():
  assert list(inspect.signature(inception_v1.inception_v1).parameters) == [
      'inputs', 'num_classes', 'is_training', 'dropout_keep_prob',
      'prediction_fn', 'spatial_squeeze', 'reuse', 'scope', 'global_pool']
  assert list(inspect.signature(inception_v3.inception_v3).parameters) == [
      'inputs', 'num_classes', 'is_training', 'dropout_keep_prob',
      'min_depth', 'depth_multiplier', 'prediction_fn', 'spatial_squeeze',
      'reuse', 'create_aux_logits', 'scope', 'global_pool']
  assert list(inspect.signature(
      inception_v2.inception_v2_base).parameters) == [
          'inputs', 'final_endpoint', 'min_depth', 'depth_multiplier',
          'use_separable_conv', 'data_format', 'include_root_block', 'scope']


def test_research_slims_kernel_helper_is_there_under_its_names():
  from slimvision.nets import inception_v2, inception_v3, mobilenet_v1  # pylint: disable=g-import-not-at-top
  for module in (inception_v2, inception_v3, mobilenet_v1):
    helper = module._reduced_kernel_size_for_small_input
    with tf.Graph().as_default():
      assert helper(tf.zeros([1, 3, 9, 8]), [7, 7]) == [3, 7]
      assert helper(tf.placeholder(tf.float32, [1, None, 9, 8]),
                    [7, 7]) == [7, 7]
