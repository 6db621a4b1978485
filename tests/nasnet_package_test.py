"""research/slim's nets/nasnet/ package: nasnet, nasnet_utils and pnasnet
at research/slim's module paths, with its call signatures, and every NASNet
and PNASNet of the model zoo against its manifest."""

import inspect

import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from conftest import assert_matches_manifest, load_manifest
from slimvision.nets import nasnet as nasnet_package
from slimvision.nets.nasnet import nasnet
from slimvision.nets.nasnet import nasnet_utils
from slimvision.nets.nasnet import pnasnet
from slimvision.nets import nets_factory

BATCH = 2


def _small(config, **overrides):
  # 3 cells: reductions before cells 1 and 2, the aux head on cell 1.
  return config.copy(num_cells=3, num_conv_filters=4, **overrides)


def _names():
  return [v.op.name for v in tf.global_variables()
          if v.op.name != 'global_step']


# Registry name -> (module, network function, arg_scope function).
# nets_factory_test leaves their manifest test here: the registry serves
# these functions, so one build checks both ways in.
_NETWORKS = {
    'nasnet_cifar': (nasnet, 'build_nasnet_cifar', 'nasnet_cifar_arg_scope'),
    'nasnet_mobile': (nasnet, 'build_nasnet_mobile',
                      'nasnet_mobile_arg_scope'),
    'nasnet_large': (nasnet, 'build_nasnet_large', 'nasnet_large_arg_scope'),
    'pnasnet_mobile': (pnasnet, 'build_pnasnet_mobile',
                       'pnasnet_mobile_arg_scope'),
    'pnasnet_large': (pnasnet, 'build_pnasnet_large',
                      'pnasnet_large_arg_scope'),
}
MANIFEST_NETWORKS = tuple(_NETWORKS)
# Tens of seconds each on 2 cores; CI runs them all the same.
_SLOW = ('nasnet_large', 'pnasnet_large')


@pytest.mark.parametrize('name', [
    pytest.param(n, marks=pytest.mark.slow) if n in _SLOW else n
    for n in MANIFEST_NETWORKS])
def test_network_matches_the_manifest(name):
  manifest = load_manifest(name)
  module, network, arg_scope_fn = _NETWORKS[name]
  spec = nets_factory.model_spec(name)
  assert spec.network() is getattr(module, network)
  assert spec.arg_scope() is getattr(module, arg_scope_fn)
  with tf.Graph().as_default():
    tf.train.get_or_create_global_step()
    images = tf.placeholder(tf.float32, manifest['input_shape'])
    logits, end_points = nets_factory.get_network_fn(
        name, manifest['num_classes'], is_training=True)(images)
    assert_matches_manifest(manifest, logits, end_points)
  assert getattr(module, network).default_image_size == (
      manifest['image_size'])


def test_the_package_keeps_the_module_names():
  # nets/nasnet/ replaced nets/nasnet.py; both import styles see one network.
  assert nasnet_package.nasnet is nasnet
  for name in ('build_nasnet_cifar', 'build_nasnet_mobile',
               'build_nasnet_large', 'nasnet_cifar_arg_scope',
               'nasnet_mobile_arg_scope', 'nasnet_large_arg_scope',
               'cifar_config', 'mobile_imagenet_config',
               'large_imagenet_config'):
    assert getattr(nasnet_package, name) is getattr(nasnet, name)
  assert nasnet.arg_scope is slim.arg_scope
  assert nasnet.build_nasnet_cifar.default_image_size == 32
  assert nasnet.build_nasnet_large.default_image_size == 331


def test_signatures_match_research_slim():
  assert list(inspect.signature(nasnet.build_nasnet_cifar).parameters)[:5] == [
      'images', 'num_classes', 'is_training', 'config', 'current_step']
  assert list(inspect.signature(nasnet.build_nasnet_mobile).parameters)[
      :6] == ['images', 'num_classes', 'is_training', 'final_endpoint',
              'config', 'current_step']
  assert list(inspect.signature(pnasnet.build_pnasnet_large).parameters)[
      :5] == ['images', 'num_classes', 'is_training', 'final_endpoint',
              'config']
  defaults = {
      fn.__name__: [p.default for p in inspect.signature(fn).parameters.values()]
      for fn in (nasnet.nasnet_cifar_arg_scope, nasnet.nasnet_mobile_arg_scope,
                 nasnet.nasnet_large_arg_scope,
                 pnasnet.pnasnet_large_arg_scope,
                 pnasnet.pnasnet_mobile_arg_scope)}
  assert defaults == {
      'nasnet_cifar_arg_scope': [5e-4, 0.9, 1e-5],
      'nasnet_mobile_arg_scope': [4e-5, 0.9997, 1e-3],
      'nasnet_large_arg_scope': [5e-5, 0.9997, 1e-3],
      'pnasnet_large_arg_scope': [4e-5, 0.9997, 1e-3],
      'pnasnet_mobile_arg_scope': [4e-5, 0.9997, 1e-3]}


@pytest.mark.slow
def test_cifar_positional_config():
  # research/slim's order: (images, num_classes, is_training, config).
  config = _small(nasnet.cifar_config())
  with tf.Graph().as_default():
    tf.train.get_or_create_global_step()
    images = tf.placeholder(tf.float32, [BATCH, 16, 16, 3])
    with slim.arg_scope(nasnet.nasnet_cifar_arg_scope()):
      logits, end_points = nasnet.build_nasnet_cifar(images, 10, True, config)
    assert logits.shape.as_list() == [BATCH, 10]
    assert end_points['AuxLogits'].shape.as_list() == [BATCH, 10]
    assert 'Cell_2' in end_points and 'Cell_3' not in end_points
    # drop_path_keep_prob 0.6 in training: drop path ops are built.
    assert any('/drop_path/' in op.name
               for op in tf.get_default_graph().get_operations())
  assert config.num_cells == 3 and config.drop_path_keep_prob == 0.6


def test_mobile_final_endpoint_and_features():
  config = _small(nasnet.mobile_imagenet_config())
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [BATCH, 96, 96, 3])
    net, end_points = nasnet.build_nasnet_mobile(
        images, 5, is_training=False, final_endpoint='Reduction_Cell_0',
        config=config, current_step=tf.constant(0))
    assert net is end_points['Reduction_Cell_0']
    assert 'Cell_1' not in end_points
  with tf.Graph().as_default():  # No network scope: a graph per network.
    net, end_points = nasnet.build_nasnet_mobile(
        tf.placeholder(tf.float32, [BATCH, 96, 96, 3]), None,
        is_training=True, config=config)
    # No classes: the pooled features, no auxiliary head.
    assert net is end_points['global_pool']
    assert 'AuxLogits' not in end_points


def test_pnasnet_through_the_package():
  config = _small(pnasnet.mobile_imagenet_config())
  with tf.Graph().as_default():
    tf.train.get_or_create_global_step()
    images = tf.placeholder(tf.float32, [BATCH, 96, 96, 3])
    with slim.arg_scope(pnasnet.pnasnet_mobile_arg_scope()):
      logits, end_points = pnasnet.build_pnasnet_mobile(
          images, 7, is_training=True, config=config)
    assert logits.shape.as_list() == [BATCH, 7]
    assert end_points['AuxLogits'].shape.as_list() == [BATCH, 7]
    # One cell type; the stem uses it too.
    assert 'cell_stem_0/comb_iter_0/left/separable_5x5_1/depthwise_weights' in (
        _names())
    assert not [n for n in _names() if n.startswith('reduction_cell')]
  assert pnasnet.build_pnasnet_mobile.default_image_size == 224
  assert pnasnet.large_imagenet_config().num_conv_filters == 216
  cell = pnasnet.PNasNetNormalCell(8, 1.0, 5, 1000)
  assert isinstance(cell, nasnet_utils.NasNetABaseCell)


# research/slim's nasnet_utils tests, through the package path.


def test_calc_reduction_layers():
  assert nasnet_utils.calc_reduction_layers(18, 2) == [6, 12]


@pytest.mark.parametrize('data_format,index', [('NHWC', 3), ('NCHW', 1)])
def test_channel_index_dim_and_global_pool(data_format, index):
  assert nasnet_utils.get_channel_index(data_format) == index
  shape = [10, 20, 30, 40]
  assert nasnet_utils.get_channel_dim(shape, data_format) == shape[index]
  with tf.Graph().as_default():
    inputs = tf.placeholder(tf.float32, (5, 10, 20, 10))
    output = nasnet_utils.global_avg_pool(inputs, data_format)
    assert output.shape.as_list() == [5, 10]


def test_factorized_reduction():
  with tf.Graph().as_default():
    inputs = tf.placeholder(tf.float32, (5, 10, 20, 10))
    output = nasnet_utils.factorized_reduction(inputs, 16, stride=1,
                                               data_format='NHWC')
    assert output.shape.as_list() == [5, 10, 20, 16]
    output = nasnet_utils.factorized_reduction(inputs, 16, stride=2,
                                               data_format='NHWC')
    assert output.shape.as_list() == [5, 5, 10, 16]
  assert nasnet_utils.INVALID == 'null'
  assert nasnet_utils.DATA_FORMAT_NCHW == 'NCHW'


def test_cells_take_research_slims_positional_arguments():
  # (num_conv_filters, drop_path_keep_prob, total_num_cells,
  #  total_training_steps, use_bounded_activation)
  cell = nasnet_utils.NasNetANormalCell(4, 1.0, 5, 1000, False)
  with tf.Graph().as_default():
    net = tf.placeholder(tf.float32, (BATCH, 8, 8, 24))
    output = cell(net, scope='cell_0', filter_scaling=1, stride=1,
                  prev_layer=net, cell_num=0)
    assert output.shape.as_list() == [BATCH, 8, 8, 24]
    reduction = nasnet_utils.NasNetAReductionCell(4, 1.0, 5, 1000)
    output = reduction(net, scope='reduction_cell_0', filter_scaling=2,
                       stride=2, prev_layer=net, cell_num=1)
    assert output.shape.as_list() == [BATCH, 4, 4, 32]
