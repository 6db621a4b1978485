"""Every model-zoo network against its recorded manifest (fixtures/model_zoo);
some are checked in their own test files (_MANIFEST_TESTED_ELSEWHERE).

Compatibility with the published checkpoints means: the same set of global
variable names with the same shapes, the same model / trainable membership,
the same end points with the same static shapes, and the same logits shape.
"""

import importlib

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import built_networks
from conftest import load_manifest
from slimvision.nets import nets_factory
from slimvision.nets.nasnet import nasnet

# Builds that take tens of seconds on 2 CPU cores; CI runs them all the same.
SLOW = {'nasnet_large', 'pnasnet_large', 'resnet_v1_200', 'resnet_v2_200',
        'i3d', 's3dg', 'inception_resnet_v2', 'inception_v4'}


# Networks whose manifest test lives in their own test file, with what is
# particular to them (the head's op names, the research/slim package path),
# built through this factory there; a second build here would add only time.
_MANIFEST_TESTED_ELSEWHERE = {
    name: module for module in ('inception_v1_v3_test',
                                'mobilenet_package_test',
                                'nasnet_package_test')
    for name in importlib.import_module(module).MANIFEST_NETWORKS}


def _names():
  return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
          for n in nets_factory.network_names()
          if n not in _MANIFEST_TESTED_ELSEWHERE]


def _build(name, manifest, is_training):
  tf.train.get_or_create_global_step()
  images = tf.placeholder(tf.float32, manifest['input_shape'])
  network_fn = nets_factory.get_network_fn(
      name, manifest['num_classes'], is_training=is_training)
  logits, end_points = network_fn(images)
  return images, logits, end_points


@pytest.mark.parametrize('name', _names())
def test_network_matches_manifest(name):
  manifest = load_manifest(name)
  with tf.Graph().as_default():
    _, logits, end_points = _build(name, manifest, is_training=True)
    variables = {v.op.name: v.shape.as_list() for v in tf.global_variables()
                 if v.op.name != 'global_step'}
    expected = {n: s for n, s in manifest['variables']}
    missing = sorted(set(expected) - set(variables))
    unexpected = sorted(set(variables) - set(expected))
    assert not missing and not unexpected, (missing[:10], unexpected[:10])
    wrong_shape = {n: (variables[n], expected[n]) for n in expected
                   if variables[n] != expected[n]}
    assert not wrong_shape
    assert sorted(v.op.name for v in tf.model_variables()) == sorted(
        manifest['model_variables'])
    assert sorted(v.op.name for v in tf.trainable_variables()) == sorted(
        manifest['trainable_variables'])
    shapes = {k: (v.shape.as_list() if v.shape.rank is not None else None)
              for k, v in end_points.items()}
    assert shapes == manifest['end_points']
    assert logits.shape.as_list() == manifest['logits_shape']
    fn = nets_factory.get_network_fn(name, 10)
    assert fn.default_image_size == manifest['image_size']


# Input sides for the inference test: enough for every pooling and the
# auxiliary heads (the Inception aux heads need over 107 pixels).
_SMALL_INPUT = {'inception_v3': 128}


# Network modules whose own test file runs inference and checks the same
# (finite, deterministic logits) on a build it shares with other tests: a
# second build here would add nothing but tens of seconds.
_INFERENCE_TESTED_ELSEWHERE = {
    'i3d': 'i3d_test.test_weight_decay_and_inference',
    'inception_resnet_v2':
        'inception_resnet_v2_test.test_inference_gives_probabilities',
    'inception_v4': 'inception_v4_test.test_inference_gives_probabilities',
    'mobilenet_v2': 'mobilenet_v2_test.test_inference_is_deterministic_'
                    'and_reuse_shares_variables',
    'mobilenet_v3': 'mobilenet_v3_test.test_inference_is_deterministic_'
                    'with_reuse_and_unknown_size',
    'nasnet': 'nasnet_test.test_inference_runs_and_predictions_are_'
              'probabilities',
    'pnasnet': 'pnasnet_test.test_inference_is_finite_and_deterministic',
    's3dg': 's3dg_test.test_inference_gives_probabilities',
}


def _one_per_module():
  """The network with the fewest variables of each module: variants of one
  module (depths, width multipliers) run the same code, which the manifest
  test above builds for every one of them. Modules in
  _INFERENCE_TESTED_ELSEWHERE are left to their own tests."""
  chosen = {}
  for name in nets_factory.network_names():
    module = nets_factory.model_spec(name).network_fn.module
    if module.rsplit('.', 1)[-1] in _INFERENCE_TESTED_ELSEWHERE:
      continue
    size = len(load_manifest(name)['variables'])
    if module not in chosen or size < chosen[module][1]:
      chosen[module] = (name, size)
  names = sorted(name for name, _ in chosen.values())
  return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
          for n in names]


@pytest.mark.parametrize('name', _one_per_module())
def test_inference_is_finite_and_deterministic(name):
  manifest = load_manifest(name)
  # One image is enough here, and a smaller one where the network pools
  # globally: it runs the same code.
  shape = [1] + manifest['input_shape'][1:]
  if name in _SMALL_INPUT:
    shape[1:3] = [_SMALL_INPUT[name]] * 2
  with tf.Graph().as_default():
    tf.set_random_seed(0)
    images, logits, _ = _build(name, dict(manifest, input_shape=shape),
                               is_training=False)
    batch = np.random.RandomState(0).uniform(-1, 1, shape).astype(np.float32)
    with tf.Session(config=built_networks.arithmetic_only_config()) as sess:
      sess.run(tf.global_variables_initializer())
      first = sess.run(logits, {images: batch})
      second = sess.run(logits, {images: batch})
  assert first.shape == (1, manifest['logits_shape'][-1])
  assert np.all(np.isfinite(first))
  np.testing.assert_array_equal(first, second)


def test_unknown_name_lists_valid_names():
  with pytest.raises(ValueError, match='Unknown model name .*lenet'):
    nets_factory.get_network_fn('lenett', 10)


@pytest.mark.parametrize('name, shape', [
    ('lenet', [4, 28, 28, 1]), ('cifarnet', [4, 32, 32, 3]),
    ('mobilenet_v1_025', [4, 64, 64, 3]), ('mobilenet_v2_035', [4, 64, 64, 3]),
    ('nasnet_cifar', [4, 32, 32, 3])])
def test_training_steps_lower_the_loss_on_a_fixed_batch(name, shape):
  rng = np.random.RandomState(0)
  batch = rng.uniform(-1, 1, shape).astype(np.float32)
  labels = np.arange(shape[0]) % 3
  with tf.Graph().as_default():
    tf.set_random_seed(0)
    tf.train.get_or_create_global_step()
    network_fn = nets_factory.get_network_fn(name, 3, is_training=True)
    # No dropout, so the loss before and after is measured on one function.
    kwargs = {'dropout_keep_prob': 1.0}
    if name == 'nasnet_cifar':
      # The same cells, drop path and aux head, with fewer and narrower
      # cells: the full network takes minutes to train a step on 2 cores.
      config = nasnet.cifar_config()
      config.num_cells, config.num_conv_filters = 3, 8
      kwargs = {'config': config}
    logits, _ = network_fn(tf.constant(batch), **kwargs)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
      # Adam, not plain SGD: the gradient of mobilenet_v1_025's first
      # depthwise kernel is hundreds of times the others' on 4 images, so
      # SGD steps made its loss oscillate (up or down after 10 steps
      # depending on the kernels' rounding); Adam's steps are scaled.
      step = tf.train.AdamOptimizer(0.001).minimize(
          loss, global_step=tf.train.get_global_step())
    with tf.Session(config=built_networks.arithmetic_only_config()) as sess:
      sess.run(tf.global_variables_initializer())
      before = sess.run(loss)
      for _ in range(10):
        sess.run(step)
      after = sess.run(loss)
  assert after < before


def test_a_saved_checkpoint_restores_into_a_fresh_graph(tmp_path):
  manifest = load_manifest('mobilenet_v1_025')
  path = str(tmp_path / 'model.ckpt')
  with tf.Graph().as_default():
    _build('mobilenet_v1_025', manifest, is_training=True)
    with tf.Session(config=built_networks.arithmetic_only_config()) as sess:
      sess.run(tf.global_variables_initializer())
      tf.train.Saver().save(sess, path)
      # One run for all the values: a run per variable costs seconds.
      saved = sess.run({v.op.name: v for v in tf.global_variables()})
  saved_names = {n for n, _ in tf.train.list_variables(path)}
  with tf.Graph().as_default():
    _build('mobilenet_v1_025', manifest, is_training=True)
    graph_names = {v.op.name for v in tf.global_variables()}
    assert graph_names == saved_names  # Nothing missing, nothing unexpected.
    with tf.Session(config=built_networks.arithmetic_only_config()) as sess:
      tf.train.Saver().restore(sess, path)
      restored = sess.run({v.op.name: v for v in tf.global_variables()})
  assert sorted(restored) == sorted(saved)
  for name, value in restored.items():
    np.testing.assert_array_equal(value, saved[name])


@pytest.mark.parametrize('name, scope', [
    ('mobilenet_v1_025', 'MobilenetV1/Conv2d_0/BatchNorm'),
    ('mobilenet_v2_035', 'MobilenetV2/Conv/BatchNorm'),
    ('resnet_v1_50', 'resnet_v1_50/conv1/BatchNorm')])
@pytest.mark.parametrize('decay', [0.0, 0.75])
def test_batch_norm_decay_sets_the_moving_mean_update(name, scope, decay):
  # One update from the initial moving mean of 0 leaves (1 - decay) times
  # the batch mean of the batch-norm layer's input.
  batch = np.random.RandomState(0).uniform(-1, 1, [2, 64, 64, 3])
  with tf.Graph().as_default():
    network_fn = nets_factory.get_network_fn(
        name, 3, is_training=True, batch_norm_decay=decay)
    network_fn(tf.constant(batch, tf.float32))
    # The op sits in a name scope that may repeat the network's scope.
    batch_norm = [op for op in tf.get_default_graph().get_operations()
                  if op.name.endswith(scope + '/FusedBatchNormV3')]
    assert len(batch_norm) == 1
    moving_mean = [v for v in tf.global_variables()
                   if v.op.name == scope + '/moving_mean'][0]
    with tf.Session(config=built_networks.arithmetic_only_config()) as sess:
      sess.run(tf.global_variables_initializer())
      bn_input, _ = sess.run([batch_norm[0].inputs[0],
                              tf.get_collection(tf.GraphKeys.UPDATE_OPS)])
      updated = sess.run(moving_mean)
  np.testing.assert_allclose(updated, (1 - decay) * bn_input.mean((0, 1, 2)),
                             rtol=1e-4, atol=1e-6)


def test_batch_norm_decay_names_the_networks_keyword():
  assert nets_factory.batch_norm_decay_arg('mobilenet_v1') == (
      'batch_norm_decay')
  assert nets_factory.batch_norm_decay_arg('mobilenet_v2') == 'bn_decay'
  assert nets_factory.batch_norm_decay_arg('cifarnet') is None
  with pytest.raises(ValueError, match='--batch_norm_decay: cifarnet takes no'):
    nets_factory.get_network_fn('cifarnet', 3, batch_norm_decay=0.9)


def test_networks_left_to_their_own_tests_have_them():
  for module, test in _INFERENCE_TESTED_ELSEWHERE.items():
    test_module, test_name = test.split('.')
    assert callable(getattr(importlib.import_module(test_module), test_name))
    # Networks other tests register at run time have no module reference.
    assert any(getattr(nets_factory.model_spec(n).network_fn, 'module',
                       '').endswith('.' + module)
               for n in nets_factory.network_names()), module
  assert sorted(_MANIFEST_TESTED_ELSEWHERE) == [
      'inception_v1', 'inception_v2', 'inception_v3', 'mobilenet_edgetpu',
      'mobilenet_edgetpu_075', 'mobilenet_v2', 'mobilenet_v2_035',
      'mobilenet_v2_140', 'mobilenet_v3_large',
      'mobilenet_v3_large_minimalistic', 'mobilenet_v3_small',
      'mobilenet_v3_small_minimalistic', 'nasnet_cifar', 'nasnet_large',
      'nasnet_mobile', 'pnasnet_large', 'pnasnet_mobile']
  assert set(_MANIFEST_TESTED_ELSEWHERE) < set(nets_factory.network_names())


def test_an_image_too_small_for_the_network_names_size_layer_and_default():
  network_fn = nets_factory.get_network_fn('lenet', 6)
  # 2 px: conv1 keeps 2x2, pool1 makes it 1x1, pool2 has nothing to pool.
  with tf.Graph().as_default():
    with pytest.raises(nets_factory.ImageTooSmall) as error:
      network_fn(tf.zeros([1, 2, 2, 1]))
  assert str(error.value) == (
      'an image size of 2 is too small for lenet: its layers shrink the '
      'image to nothing (at LeNet/pool2); its default image size is 28 px')
  with tf.Graph().as_default():
    with pytest.raises(ValueError) as error:
      with nets_factory.image_too_small_names_flag('--eval_image_size'):
        network_fn(tf.zeros([1, 2, 2, 1]))
  assert str(error.value).startswith(
      '--eval_image_size=2 is too small for lenet: ')
  with tf.Graph().as_default():
    logits, _ = network_fn(tf.zeros([1, 8, 8, 1]))  # 8 px is enough.
  assert logits.shape.as_list() == [1, 6]
