"""NASNet options (nets/nasnet/nasnet.py) and the shared cell machinery
(nets/nasnet/nasnet_utils.py).

The full-size networks are checked against the model-zoo manifests in
nasnet_package_test.py; here small configurations (few cells, few filters,
tiny images) keep each build to a second or two.
"""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

import built_networks
from slimvision.nets.nasnet import nasnet
from slimvision.nets.nasnet import nasnet_utils
from slimvision.nets.nasnet import pnasnet

BATCH = 2


def _small_cifar_config(**overrides):
  # 3 cells -> reductions before cells 1 and 2, aux head on cell 1.
  return nasnet.cifar_config().copy(num_cells=3, num_conv_filters=4,
                                    **overrides)


def _small_mobile_config(**overrides):
  # 3 cells -> reductions before cells 1 and 2, aux head on cell 1.
  return nasnet.mobile_imagenet_config().copy(num_cells=3, num_conv_filters=4,
                                              **overrides)


def _build(build_fn=nasnet.build_nasnet_cifar, size=16, num_classes=10,
           is_training=True, arg_scope_fn=nasnet.nasnet_cifar_arg_scope,
           arg_scope_kwargs=None, **kwargs):
  """Builds in the current graph; returns (images, output, end_points)."""
  tf.train.get_or_create_global_step()
  images = tf.placeholder(tf.float32, [BATCH, size, size, 3])
  kwargs.setdefault('config', _small_cifar_config())
  arg_scope_kwargs = dict(dict(weight_decay=0.0), **(arg_scope_kwargs or {}))
  with slim.arg_scope(arg_scope_fn(**arg_scope_kwargs)):
    output, end_points = build_fn(images, num_classes,
                                  is_training=is_training, **kwargs)
  return images, output, end_points


@built_networks.shared
def _built(num_classes=10, is_training=True, arg_scope_kwargs=(),
           **config_overrides):
  """The small cifar network, built once per set of options for the tests
  that read the same build (a finalized graph: see built_networks)."""
  return _build(num_classes=num_classes, is_training=is_training,
                arg_scope_kwargs=dict(arg_scope_kwargs),
                config=_small_cifar_config(**config_overrides))


# The inference-mode build: the inference, arg scope and drop path tests.
_INFERENCE = dict(is_training=False, arg_scope_kwargs=(
    ('weight_decay', 1e-4), ('batch_norm_epsilon', 2e-3)))


def _variable_names():
  return [v.op.name for v in tf.global_variables()
          if v.op.name != 'global_step']


def _drop_path_ops(graph):
  return [op for op in graph.get_operations()
          if '/drop_path/' in op.name + '/']


def test_small_cifar_shapes_end_points_and_channels():
  built = _built()
  with built.graph.as_default():
    logits, end_points = built.output, built.end_points
    assert logits.shape.as_list() == [BATCH, 10]
    expected = {'Stem': [BATCH, 16, 16, 12],
                # Normal cells: 6 states of the stage's filters.
                'Cell_0': [BATCH, 16, 16, 24],
                # Reduction cells: 4 states of 2x / 4x the base filters.
                'Reduction_Cell_0': [BATCH, 8, 8, 32],
                'Cell_1': [BATCH, 8, 8, 48],
                'Reduction_Cell_1': [BATCH, 4, 4, 64],
                'Cell_2': [BATCH, 4, 4, 96],
                'global_pool': [BATCH, 96], 'AuxLogits': [BATCH, 10],
                'Logits': [BATCH, 10], 'Predictions': [BATCH, 10]}
    assert {k: v.shape.as_list() for k, v in end_points.items()} == expected
    names = _variable_names()
    assert 'aux_1/aux_logits/FC/weights' in names
    assert 'reduction_cell_1/comb_iter_0/right/separable_7x7_2/' \
        'pointwise_weights' in names


def test_nasnet_mobile_small_imagenet_stem():
  with tf.Graph().as_default():
    _, logits, end_points = _build(
        nasnet.build_nasnet_mobile, size=96, num_classes=7,
        arg_scope_fn=nasnet.nasnet_mobile_arg_scope,
        config=_small_mobile_config())
    assert logits.shape.as_list() == [BATCH, 7]
    # 96 -> conv0 VALID/2 -> 47 -> stem cells -> 24 -> 12.
    assert end_points['Stem'].shape.as_list() == [BATCH, 12, 12, 8]
    assert end_points['Cell_0'].shape.as_list() == [BATCH, 12, 12, 24]
    assert end_points['AuxLogits'].shape.as_list() == [BATCH, 7]
    names = _variable_names()
    assert names[0] == 'conv0/weights'
    assert 'cell_stem_1/path2_conv/weights' in names


def test_inference_runs_and_predictions_are_probabilities():
  built = _built(**_INFERENCE)
  batch = np.random.RandomState(0).uniform(-1, 1, [BATCH, 16, 16, 3])
  with built_networks.session(built) as sess:
    first, probs = sess.run([built.output, built.end_points['Predictions']],
                            {built.images: batch})
    second = sess.run(built.output, {built.images: batch})
  assert np.all(np.isfinite(first))
  np.testing.assert_array_equal(first, second)
  np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize('endpoint', ['Stem', 'Cell_0', 'Reduction_Cell_0',
                                      'Logits'])
def test_final_endpoint_stops_early(endpoint):
  with tf.Graph().as_default():
    _, output, end_points = _build(final_endpoint=endpoint)
    assert output is end_points[endpoint]
    order = ['Stem', 'Cell_0', 'Reduction_Cell_0', 'Cell_1', 'AuxLogits',
             'Reduction_Cell_1', 'Cell_2', 'global_pool', 'Logits']
    assert sorted(end_points) == sorted(order[:order.index(endpoint) + 1])
    names = _variable_names()
    if endpoint != 'Logits':
      assert not [n for n in names if n.startswith('final_layer/')]
    if endpoint == 'Cell_0':
      assert not [n for n in names if n.startswith(('cell_1/',
                                                    'reduction_cell_0/'))]


def test_unknown_final_endpoint_raises():
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='final_endpoint'):
      _build(final_endpoint='Cell_99')


@pytest.mark.parametrize('num_classes', [0, None])
def test_no_classes_returns_pooled_features(num_classes):
  built = _built(num_classes=num_classes)
  with built.graph.as_default():
    output, end_points = built.output, built.end_points
    assert output is end_points['global_pool']
    assert output.shape.as_list() == [BATCH, 96]
    assert 'Logits' not in end_points and 'AuxLogits' not in end_points
    names = _variable_names()
    assert not [n for n in names if n.startswith(('final_layer/', 'aux_'))]


@pytest.mark.parametrize('use_aux_head,is_training,expected', [
    (1, True, True), (0, True, False), (1, False, False)])
def test_aux_head_only_when_config_asks_and_training(use_aux_head, is_training,
                                                     expected):
  if use_aux_head:
    # The cifar config asks for the head: the shared whole-network builds.
    built = _built(**(_INFERENCE if not is_training else {}))
  else:
    # The aux head hangs on Cell_1, built before Reduction_Cell_1.
    built = built_networks.build_in_new_graph(lambda: _build(
        is_training=is_training, final_endpoint='Reduction_Cell_1',
        config=_small_cifar_config(use_aux_head=use_aux_head)))
  assert ('AuxLogits' in built.end_points) == expected
  assert bool(built_networks.variable_names(built, 'aux_1/')) == expected


def test_drop_path_only_in_training():
  # cifar config: keep prob 0.6; the shared training and inference builds.
  assert _drop_path_ops(_built().graph)
  assert not _drop_path_ops(_built(**_INFERENCE).graph)
  with tf.Graph().as_default() as graph:
    _build(is_training=True, final_endpoint='Cell_0',
           config=_small_cifar_config(drop_path_keep_prob=1.0))
    assert not _drop_path_ops(graph)


def test_builder_leaves_the_callers_config_alone():
  config = _small_cifar_config()
  with tf.Graph().as_default():
    _build(is_training=False, config=config, final_endpoint='Stem')
  assert config.drop_path_keep_prob == 0.6


def test_training_mode_drops_after_the_ramp_and_not_at_step_zero():
  config = _small_cifar_config(drop_path_keep_prob=0.3,
                               total_training_steps=10)
  batch = np.random.RandomState(0).uniform(-1, 1, [BATCH, 16, 16, 3])
  with tf.Graph().as_default():
    tf.set_random_seed(3)
    images, logits, _ = _build(config=config, final_endpoint='Cell_0')
    step = tf.train.get_global_step()
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      at_zero = [sess.run(logits, {images: batch}) for _ in range(2)]
      sess.run(step.assign(10))
      ramped = [sess.run(logits, {images: batch}) for _ in range(6)]
  # Batch norm in training mode is deterministic; only drop path is random.
  np.testing.assert_allclose(at_zero[0], at_zero[1], rtol=1e-5, atol=1e-5)
  assert any(not np.allclose(ramped[0], r, atol=1e-5) for r in ramped[1:])


def test_arg_scope_weight_decay_and_batch_norm_keywords():
  # The inference build: weight decay 1e-4, batch norm epsilon 2e-3.
  built = _built(**_INFERENCE)
  with built.graph.as_default() as graph:
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    weights = [v for v in tf.trainable_variables()
               if v.op.name.endswith('weights')]
    assert len(losses) == len(weights) > 0
    epsilons = {op.get_attr('epsilon') for op in graph.get_operations()
                if op.type.startswith('FusedBatchNorm')}
    assert epsilons and all(abs(e - 2e-3) < 1e-9 for e in epsilons)
  for fn in (nasnet.nasnet_mobile_arg_scope, nasnet.nasnet_large_arg_scope):
    assert fn(weight_decay=0.0, batch_norm_decay=0.99,
              batch_norm_epsilon=1e-3)


def test_nchw_config_builds_the_same_variables():
  shapes = []
  for data_format in ('NHWC', 'NCHW'):
    # NHWC is the default: the shared training build.
    built = _built(**({} if data_format == 'NHWC' else
                      dict(data_format=data_format)))
    with built.graph.as_default():
      shapes.append([(v.op.name, v.shape.as_list())
                     for v in tf.global_variables()])
    assert built.output.shape.as_list() == [BATCH, 10]
  assert shapes[0] == shapes[1]
  # NCHW end points keep the channels on axis 1.
  assert built.end_points['Cell_2'].shape.as_list() == [BATCH, 96, 4, 4]


def test_bounded_activation_uses_relu6():
  with tf.Graph().as_default() as graph:
    _build(config=_small_cifar_config(use_bounded_activation=True),
           final_endpoint='Cell_0')
    types = {op.type for op in graph.get_operations()}
    assert 'Relu6' in types and 'Relu' not in types


def test_default_image_sizes():
  assert nasnet.build_nasnet_cifar.default_image_size == 32
  assert nasnet.build_nasnet_mobile.default_image_size == 224
  assert nasnet.build_nasnet_large.default_image_size == 331


def test_published_configs():
  large = nasnet.large_imagenet_config()
  assert (large.num_cells, large.num_conv_filters, large.stem_multiplier,
          large.drop_path_keep_prob, large.skip_reduction_layer_input) == (
              18, 168, 3.0, 0.7, 1)
  mobile = nasnet.mobile_imagenet_config()
  assert (mobile.num_cells, mobile.num_conv_filters,
          mobile.drop_path_keep_prob) == (12, 44, 1.0)
  cifar = nasnet.cifar_config()
  assert (cifar.num_cells, cifar.num_conv_filters, cifar.drop_path_keep_prob,
          cifar.total_training_steps) == (18, 32, 0.6, 937500)


# --- nasnet_utils ----------------------------------------------------------


def test_config_record():
  config = nasnet_utils.NasNetConfig(a=1, b='x')
  other = config.copy(a=2)
  assert (config.a, other.a, other.b) == (1, 2, 'x')
  config.set_hparam('b', 'y')
  assert config.values() == {'a': 1, 'b': 'y'}
  with pytest.raises(ValueError, match='Unknown hyper-parameter'):
    config.set_hparam('c', 3)
  with pytest.raises(ValueError):
    config.copy(c=3)


@pytest.mark.parametrize('num_cells,expected', [(18, [6, 12]), (12, [4, 8]),
                                                (9, [3, 6]), (6, [2, 4])])
def test_calc_reduction_layers(num_cells, expected):
  assert nasnet_utils.calc_reduction_layers(num_cells, 2) == expected


def test_drop_path_zeroes_whole_examples_and_rescales():
  with tf.Graph().as_default():
    tf.set_random_seed(0)
    ones = tf.ones([200, 2, 2, 3])
    dropped = nasnet_utils.drop_path(ones, 0.5)
    identity = nasnet_utils.drop_path(ones, 0.5, is_training=False)
    with tf.Session() as sess:
      value, same = sess.run([dropped, identity])
  per_example = value.reshape(200, -1)
  assert set(np.unique(per_example)) <= {0.0, 2.0}
  assert np.all(per_example.min(axis=1) == per_example.max(axis=1))
  assert 0.35 < np.mean(per_example[:, 0] > 0) < 0.65
  np.testing.assert_array_equal(same, np.ones([200, 2, 2, 3]))


def test_drop_path_keep_prob_schedule_reads_the_global_step():
  with tf.Graph().as_default():
    step = tf.train.get_or_create_global_step()
    # Cell 4 of 10: the full drop rate there is 0.5 * (1 - 0.6) = 0.2.
    keep = nasnet_utils.drop_path_keep_prob(0.6, cell_num=4,
                                            total_num_cells=10,
                                            total_training_steps=100)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      values = []
      for value in (0, 50, 100, 1000):
        sess.run(step.assign(value))
        values.append(sess.run(keep))
  np.testing.assert_allclose(values, [1.0, 0.9, 0.8, 0.8], rtol=1e-6)


def test_factorized_reduction_shapes_and_shift():
  with tf.Graph().as_default():
    net = tf.constant(np.arange(2 * 5 * 5 * 3, dtype=np.float32).reshape(
        2, 5, 5, 3))
    out = nasnet_utils.factorized_reduction(net, 7, stride=2)
    assert out.shape.as_list() == [2, 3, 3, 7]
    shapes = {v.op.name: v.shape.as_list() for v in tf.global_variables()}
    assert shapes['path1_conv/weights'] == [1, 1, 3, 3]
    assert shapes['path2_conv/weights'] == [1, 1, 3, 4]
    assert shapes['final_path_bn/beta'] == [7]
    with tf.variable_scope('same'):
      out1 = nasnet_utils.factorized_reduction(net, 5, stride=1)
    assert out1.shape.as_list() == [2, 5, 5, 5]
    # The second path sees pixel (2i+1, 2j+1), zero past the border: the
    # concat input before the convs, checked through the conv inputs.
    graph = tf.get_default_graph()
    path2_input = graph.get_operation_by_name(
        'path2_conv/Conv2D').inputs[0]
    with tf.Session() as sess:
      shifted = sess.run(path2_input)
    source = np.arange(2 * 5 * 5 * 3, dtype=np.float32).reshape(2, 5, 5, 3)
    np.testing.assert_array_equal(shifted[:, :2, :2], source[:, 1::2, 1::2])
    np.testing.assert_array_equal(shifted[:, 2], 0.0)
    np.testing.assert_array_equal(shifted[:, :, 2], 0.0)


def test_global_avg_pool_both_formats():
  values = np.random.RandomState(0).rand(2, 3, 4, 5).astype(np.float32)
  with tf.Graph().as_default():
    nhwc = nasnet_utils.global_avg_pool(tf.constant(values))
    nchw = nasnet_utils.global_avg_pool(
        tf.constant(values.transpose(0, 3, 1, 2)), data_format='NCHW')
    with tf.Session() as sess:
      a, b = sess.run([nhwc, nchw])
  np.testing.assert_allclose(a, values.mean(axis=(1, 2)), rtol=1e-6)
  np.testing.assert_allclose(b, a, rtol=1e-6)


def test_unknown_cell_operation_raises():
  with pytest.raises(ValueError, match='Unknown cell operation'):
    nasnet_utils.NasNetABaseCell(
        8, ['conv_9x9'] * 10, [1, 0, 0, 0, 0, 0, 0], [0] * 10, 1.0, 4, 10)


def test_research_slims_internals_build_a_network_of_ones_own():
  # Code that assembles its own NASNet from research/slim's private pieces
  # calls them by research/slim's names and keywords.
  import inspect  # pylint: disable=g-import-not-at-top
  assert nasnet._imagenet_stem is nasnet_utils.imagenet_stem
  assert nasnet._build_aux_head is nasnet_utils.aux_head
  for fn, parameters in (
      (nasnet._imagenet_stem, ['inputs', 'hparams', 'stem_cell']),
      (nasnet._build_aux_head,
       ['net', 'end_points', 'num_classes', 'hparams', 'scope']),
      (nasnet._cifar_stem, ['inputs', 'hparams']),
      (pnasnet._build_pnasnet_base,
       ['images', 'normal_cell', 'num_classes', 'hparams', 'is_training',
        'final_endpoint'])):
    names = list(inspect.signature(fn).parameters)[:len(parameters)]
    assert names == parameters, fn.__name__
  hparams = nasnet.cifar_config()
  nasnet._update_hparams(hparams, is_training=False)
  assert hparams.drop_path_keep_prob == 1.0
  hparams.set_hparam('num_cells', 3)
  hparams.set_hparam('num_conv_filters', 4)
  cell_args = (hparams.num_conv_filters, hparams.drop_path_keep_prob,
               hparams.num_cells + 4, hparams.total_training_steps)
  with tf.Graph().as_default():
    with slim.arg_scope(nasnet.nasnet_cifar_arg_scope()):
      logits, ends = nasnet._build_nasnet_base(
          tf.zeros([1, 32, 32, 3]),
          normal_cell=nasnet_utils.NasNetANormalCell(*cell_args),
          reduction_cell=nasnet_utils.NasNetAReductionCell(*cell_args),
          num_classes=5, hparams=hparams, is_training=False,
          stem_type='cifar')
  assert logits.shape.as_list() == [1, 5] and 'Cell_2' in ends
