"""AlexNet v2, OverFeat and VGG A/16/19 with research/slim's arguments.

Code written against research/slim's `nets.alexnet`, `nets.overfeat` and
`nets.vgg` runs with only its import prefix changed; the networks keep the
published variables (fixtures/model_zoo).
"""

import inspect

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import alexnet
from slimvision.nets import cifarnet
from slimvision.nets import overfeat
from slimvision.nets import vgg

# (network, arg_scope fn, default input side, a larger [height, width] and
# its logits' [h, w] when run fully convolutionally, weight layers).
NETS = {
    'alexnet_v2': (alexnet.alexnet_v2, alexnet.alexnet_v2_arg_scope, 224,
                   [300, 400], [4, 7], 8),
    'overfeat': (overfeat.overfeat, overfeat.overfeat_arg_scope, 231,
                 [281, 281], [2, 2], 8),
    'vgg_a': (vgg.vgg_a, vgg.vgg_arg_scope, 224, [256, 256], [2, 2], 11),
    'vgg_16': (vgg.vgg_16, vgg.vgg_arg_scope, 224, [256, 256], [2, 2], 16),
    'vgg_19': (vgg.vgg_19, vgg.vgg_arg_scope, 224, [256, 256], [2, 2], 19),
}
NAMES = sorted(NETS)


def _build(name, shape, **kwargs):
  network, arg_scope, _, _, _, _ = NETS[name]
  images = tf.placeholder(tf.float32, shape)
  with slim.arg_scope(arg_scope()):
    return network(images, **kwargs)


def _default_shape(name, batch=2):
  side = NETS[name][2]
  return [batch, side, side, 3]


def _large_shape(name):
  return [1] + NETS[name][3] + [3]


def _variables(prefix):
  return [v.op.name for v in tf.global_variables()
          if v.op.name.startswith(prefix)]


@pytest.mark.parametrize('name', NAMES)
def test_classification_logits(name):
  with tf.Graph().as_default():
    logits, end_points = _build(name, _default_shape(name), num_classes=10)
    assert logits.shape.as_list() == [2, 10]
    assert logits.op.name == name + '/fc8/squeezed'
    assert end_points[name + '/fc8'] is logits
    assert 'global_pool' not in end_points


@pytest.mark.parametrize('name', NAMES)
def test_fully_convolutional(name):
  with tf.Graph().as_default():
    logits, end_points = _build(name, _large_shape(name), num_classes=10,
                                spatial_squeeze=False)
    assert logits.shape.as_list() == [1] + NETS[name][4] + [10]
    assert logits.op.name == name + '/fc8/BiasAdd'
    assert end_points[name + '/fc8'] is logits


@pytest.mark.parametrize('name', NAMES)
def test_global_pool_averages_fc7_to_1x1(name):
  with tf.Graph().as_default():
    logits, end_points = _build(name, _large_shape(name), num_classes=10,
                                spatial_squeeze=False, global_pool=True)
    assert logits.shape.as_list() == [1, 1, 1, 10]
    assert end_points['global_pool'].shape.as_list() == [1, 1, 1, 4096]
    assert end_points[name + '/fc7'].shape.as_list() == (
        [1] + NETS[name][4] + [4096])
  with tf.Graph().as_default():
    logits, _ = _build(name, _large_shape(name), num_classes=10,
                       global_pool=True)
    assert logits.shape.as_list() == [1, 10]


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('num_classes', [0, None])
def test_no_classes_returns_the_fc7_features(name, num_classes):
  with tf.Graph().as_default():
    net, end_points = _build(name, _default_shape(name),
                             num_classes=num_classes)
    assert net.shape.as_list() == [2, 1, 1, 4096]
    assert net.op.name.startswith(name + '/fc7')
    assert end_points[name + '/fc7'] is net
    assert name + '/fc8' not in end_points
    assert not _variables(name + '/fc8')
    assert _variables(name + '/fc7')


@pytest.mark.parametrize('name', NAMES)
def test_global_pool_features_for_any_input_size(name):
  with tf.Graph().as_default():
    net, end_points = _build(name, _large_shape(name), num_classes=None,
                             global_pool=True)
    assert net.shape.as_list() == [1, 1, 1, 4096]
    assert end_points['global_pool'] is net
    assert not _variables(name + '/fc8')


@pytest.mark.parametrize('name', NAMES)
def test_arg_scope_weight_decay_covers_every_weight(name):
  with tf.Graph().as_default():
    network, arg_scope, _, _, _, weight_layers = NETS[name]
    images = tf.placeholder(tf.float32, _default_shape(name, batch=1))
    with slim.arg_scope(arg_scope(weight_decay=0.01)):
      network(images, num_classes=10)
    assert len(tf.losses.get_regularization_losses()) == weight_layers
    assert len(_variables(name)) == 2 * weight_layers


def test_vgg_fc_conv_padding_same_for_dense_prediction():
  with tf.Graph().as_default():
    logits, end_points = _build('vgg_16', [1, 256, 256, 3], num_classes=10,
                                spatial_squeeze=False, fc_conv_padding='SAME')
    # 256 / 32 = 8; VALID would give 8 - 6 = 2.
    assert logits.shape.as_list() == [1, 8, 8, 10]
    assert end_points['vgg_16/fc6'].shape.as_list() == [1, 8, 8, 4096]


@pytest.mark.parametrize('name', ['vgg_a', 'vgg_16', 'vgg_19'])
def test_vgg_reuse_for_evaluation_at_another_size(name):
  with tf.Graph().as_default():
    logits, _ = _build(name, [2, 224, 224, 3])
    assert logits.shape.as_list() == [2, 1000]
    count = len(tf.global_variables())
    logits, _ = _build(name, [1, 256, 256, 3], is_training=False,
                       spatial_squeeze=False, reuse=True)
    assert logits.shape.as_list() == [1, 2, 2, 1000]
    assert len(tf.global_variables()) == count
    with tf.variable_scope(tf.get_variable_scope(), reuse=True):
      _build(name, [1, 224, 224, 3], is_training=False)
    assert len(tf.global_variables()) == count


def test_vgg_aliases():
  assert vgg.vgg_d is vgg.vgg_16
  assert vgg.vgg_e is vgg.vgg_19
  assert vgg.vgg_16.__name__ == 'vgg_16'


def test_alexnet_dropout_and_initial_biases():
  batch = np.random.RandomState(0).uniform(-1, 1, [1, 224, 224, 3])
  with tf.Graph().as_default():
    tf.set_random_seed(0)
    images = tf.constant(batch, tf.float32)
    with slim.arg_scope(alexnet.alexnet_v2_arg_scope()):
      kept, _ = alexnet.alexnet_v2(images, 10, dropout_keep_prob=1.0)
      with tf.variable_scope(tf.get_variable_scope(), reuse=True):
        dropped, _ = alexnet.alexnet_v2(images, 10)
    biases = {n: tf.global_variables(n)[0] for n in (
        'alexnet_v2/conv1/biases', 'alexnet_v2/fc6/biases',
        'alexnet_v2/fc8/biases')}
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      kept_1, kept_2 = sess.run(kept), sess.run(kept)
      dropped_1, dropped_2 = sess.run(dropped), sess.run(dropped)
      values = sess.run(biases)
  # Training mode with keep probability 1 drops nothing.
  np.testing.assert_array_equal(kept_1, kept_2)
  assert not np.array_equal(dropped_1, dropped_2)
  assert np.all(values['alexnet_v2/conv1/biases'] == np.float32(0.1))
  assert np.all(values['alexnet_v2/fc6/biases'] == np.float32(0.1))
  assert np.all(values['alexnet_v2/fc8/biases'] == 0)


# research/slim's argument order; positional callers depend on it.
_CLASSIC = ['inputs', 'num_classes', 'is_training', 'dropout_keep_prob',
            'spatial_squeeze']
_VGG = _CLASSIC + ['reuse', 'scope', 'fc_conv_padding', 'global_pool']


@pytest.mark.parametrize('name, params', [
    ('alexnet_v2', _CLASSIC + ['scope', 'global_pool']),
    ('overfeat', _CLASSIC + ['scope', 'global_pool']),
    ('vgg_a', _VGG), ('vgg_16', _VGG), ('vgg_19', _VGG)])
def test_signatures_are_research_slims(name, params):
  network, arg_scope, side = NETS[name][:3]
  parameters = inspect.signature(network).parameters
  assert list(parameters) == params
  assert parameters['num_classes'].default == 1000
  assert parameters['dropout_keep_prob'].default == 0.5
  assert parameters['scope'].default == name
  assert parameters['global_pool'].default is False
  assert list(inspect.signature(arg_scope).parameters) == ['weight_decay']
  assert network.default_image_size == side


# The model-zoo names are checked against their manifests, variable by
# variable, in nets_factory_test.py.


def test_research_slim_trunc_normal_names():
  # research/slim defines trunc_normal in each of these modules.
  assert overfeat.trunc_normal is alexnet.trunc_normal
  assert cifarnet.trunc_normal is alexnet.trunc_normal
  initializer = alexnet.trunc_normal(0.25)
  assert initializer.mean == 0.0 and initializer.stddev == 0.25
