"""PNASNet options and its cell (nets/nasnet/pnasnet.py).

The full-size networks are checked against the model-zoo manifests in
nasnet_package_test.py; here a 3-cell, 4-filter configuration on 96-pixel
images keeps each build short.
"""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

import built_networks
from slimvision.nets.nasnet import pnasnet

BATCH = 2
SIZE = 96


def _small_config(base=pnasnet.mobile_imagenet_config, **overrides):
  # 3 cells -> stride-2 cells 1 and 2, aux head on cell 1.
  return base().copy(num_cells=3, num_conv_filters=4, **overrides)


def _build(num_classes=10, is_training=True, **kwargs):
  """Builds in the current graph; returns (images, output, end_points)."""
  tf.train.get_or_create_global_step()
  images = tf.placeholder(tf.float32, [BATCH, SIZE, SIZE, 3])
  kwargs.setdefault('config', _small_config())
  with slim.arg_scope(pnasnet.pnasnet_mobile_arg_scope(weight_decay=0.0)):
    output, end_points = pnasnet.build_pnasnet_mobile(
        images, num_classes, is_training=is_training, **kwargs)
  return images, output, end_points


@built_networks.shared
def _built(is_training=True):
  """The whole small network in training or inference mode, built once for
  the tests that read the same build (a finalized graph: see
  built_networks)."""
  return _build(is_training=is_training)


def _variable_names():
  return [v.op.name for v in tf.global_variables()
          if v.op.name != 'global_step']


def test_small_network_shapes_and_cell_variables():
  built = _built()
  with built.graph.as_default():
    logits, end_points = built.output, built.end_points
    # Every cell outputs 5 states; stride-2 cells double the filters.
    expected = {'Stem': [BATCH, 12, 12, 10],
                'Cell_0': [BATCH, 12, 12, 20],
                'Cell_1': [BATCH, 6, 6, 40],
                'Cell_2': [BATCH, 3, 3, 80],
                'global_pool': [BATCH, 80], 'AuxLogits': [BATCH, 10],
                'Logits': [BATCH, 10], 'Predictions': [BATCH, 10]}
    assert {k: v.shape.as_list() for k, v in end_points.items()} == expected
    assert logits is end_points['Logits']
    names = _variable_names()
    assert not [n for n in names if 'reduction' in n]
    # The identity branch needs a strided 1x1 conv only in stride-2 cells.
    assert 'cell_1/comb_iter_4/right/1x1/weights' in names
    assert not [n for n in names if n.startswith('cell_0/comb_iter_4/right/')]
    # Cell 2 follows a stride-2 cell: its previous input is reduced.
    assert 'cell_2/path1_conv/weights' in names
    assert 'aux_1/aux_logits/Conv/weights' in names


def test_inference_is_finite_and_deterministic():
  built = _built(is_training=False)
  batch = np.random.RandomState(0).uniform(-1, 1, [BATCH, SIZE, SIZE, 3])
  with built_networks.session(built) as sess:
    first, probs = sess.run([built.output, built.end_points['Predictions']],
                            {built.images: batch})
    second = sess.run(built.output, {built.images: batch})
  assert np.all(np.isfinite(first))
  np.testing.assert_array_equal(first, second)
  np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize('endpoint', ['Stem', 'Cell_0', 'global_pool'])
def test_final_endpoint_stops_early(endpoint):
  with tf.Graph().as_default():
    _, output, end_points = _build(final_endpoint=endpoint)
    assert output is end_points[endpoint]
    order = ['Stem', 'Cell_0', 'Cell_1', 'AuxLogits', 'Cell_2',
             'global_pool']
    assert sorted(end_points) == sorted(order[:order.index(endpoint) + 1])
    names = _variable_names()
    assert not [n for n in names if n.startswith('final_layer/')]
    if endpoint == 'Stem':
      assert not [n for n in names if n.startswith('cell_0/')]


def test_unknown_final_endpoint_raises():
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='final_endpoint'):
      _build(final_endpoint='Reduction_Cell_0')  # NASNet only


@pytest.mark.parametrize('num_classes', [0, None])
def test_no_classes_returns_pooled_features(num_classes):
  with tf.Graph().as_default():
    _, output, end_points = _build(num_classes=num_classes)
    assert output is end_points['global_pool']
    assert output.shape.as_list() == [BATCH, 80]
    assert 'Logits' not in end_points and 'AuxLogits' not in end_points
    assert not [n for n in _variable_names()
                if n.startswith(('final_layer/', 'aux_'))]


@pytest.mark.parametrize('use_aux_head,is_training,expected', [
    (1, True, True), (0, True, False), (1, False, False)])
def test_aux_head_only_when_config_asks_and_training(use_aux_head, is_training,
                                                     expected):
  if use_aux_head:
    # The mobile config asks for the head: the shared whole-network builds.
    built = _built(is_training=is_training)
  else:
    built = built_networks.build_in_new_graph(lambda: _build(
        is_training=is_training, final_endpoint='Cell_2',
        config=_small_config(use_aux_head=use_aux_head)))
  assert ('AuxLogits' in built.end_points) == expected
  assert bool(built_networks.variable_names(built, 'aux_1/')) == expected


def _drop_path_ops(graph):
  return [op for op in graph.get_operations()
          if '/drop_path/' in op.name + '/']


@pytest.mark.parametrize('is_training', [True, False])
def test_drop_path_only_in_training(is_training):
  # The large config drops paths (keep prob 0.6); the stem cells have it too.
  with tf.Graph().as_default() as graph:
    _build(is_training=is_training, final_endpoint='Stem',
           config=_small_config(pnasnet.large_imagenet_config))
    assert bool(_drop_path_ops(graph)) == is_training


def test_mobile_config_never_drops_paths():
  with tf.Graph().as_default() as graph:
    _build(final_endpoint='Stem')
    assert not _drop_path_ops(graph)


def test_cell_on_its_own_with_stride_two():
  with tf.Graph().as_default():
    cell = pnasnet.PNasNetNormalCell(6, drop_path_keep_prob=1.0,
                                     total_num_cells=4,
                                     total_training_steps=100)
    net = tf.zeros([1, 8, 8, 10])
    prev = tf.zeros([1, 16, 16, 7])
    out = cell(net, scope='cell', stride=2, prev_layer=prev, cell_num=0)
    assert out.shape.as_list() == [1, 4, 4, 30]
    shapes = {v.op.name: v.shape.as_list() for v in tf.global_variables()}
    # prev_layer (16x16) is brought to 8x8 and 6 filters (3 + 3).
    assert shapes['cell/path1_conv/weights'] == [1, 1, 7, 3]
    assert shapes['cell/comb_iter_0/left/separable_5x5_1/depthwise_weights'] \
        == [5, 5, 6, 1]


def test_configs_arg_scopes_and_image_sizes():
  large = pnasnet.large_imagenet_config()
  assert (large.num_cells, large.num_conv_filters, large.drop_path_keep_prob,
          large.stem_multiplier) == (12, 216, 0.6, 3.0)
  mobile = pnasnet.mobile_imagenet_config()
  assert (mobile.num_cells, mobile.num_conv_filters,
          mobile.drop_path_keep_prob) == (9, 54, 1.0)
  assert pnasnet.build_pnasnet_large.default_image_size == 331
  assert pnasnet.build_pnasnet_mobile.default_image_size == 224
  for fn in (pnasnet.pnasnet_large_arg_scope,
             pnasnet.pnasnet_mobile_arg_scope):
    with tf.Graph().as_default():
      with slim.arg_scope(fn(weight_decay=1e-4, batch_norm_decay=0.99,
                             batch_norm_epsilon=1e-3)):
        slim.conv2d(tf.zeros([1, 4, 4, 2]), 3, [1, 1], scope='probe')
      assert len(tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)) == 1
      assert [v.op.name for v in tf.global_variables()] == ['probe/weights']
