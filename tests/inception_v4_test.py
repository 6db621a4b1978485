"""Inception-v4: the options of the network function and its base."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

import built_networks
from slimvision.nets import inception_v4

# 139x139 is about the smallest input for which the auxiliary head fits
# (Mixed_6h 7x7 >= its 5x5 pool); the graph builds in a few seconds.
SMALL = [1, 139, 139, 3]


def _build(shape=SMALL, weight_decay=0.0, **kwargs):
  images = tf.placeholder(tf.float32, shape)
  with slim.arg_scope(inception_v4.inception_v4_arg_scope(
      weight_decay=weight_decay)):
    logits, end_points = inception_v4.inception_v4(images, **kwargs)
  return images, logits, end_points


# Each full build takes tens of seconds on 2 cores: the tests below share
# them, one per distinct set of options, in finalized graphs.
_built = built_networks.shared(
    lambda shape=tuple(SMALL), **kwargs: _build(list(shape), **kwargs))

# With the auxiliary head and weight decay: the aux and weight decay tests.
_WITH_AUX = dict(num_classes=3, weight_decay=0.1)
# Without the head, in inference mode on 75x75 images (the smallest input
# that reaches the global pool): the aux and inference tests.
_INFERENCE = dict(shape=(2, 75, 75, 3), num_classes=3, is_training=False,
                  create_aux_logits=False)


def _names(prefix, built=None):
  if built is not None:
    return built_networks.variable_names(built, prefix)
  return [v.op.name for v in tf.global_variables()
          if v.op.name.startswith(prefix)]


@pytest.mark.parametrize('num_classes', [0, None])
def test_no_classes_returns_pooled_features(num_classes):
  built = _built(num_classes=num_classes)
  net, end_points = built.output, built.end_points
  assert net.shape.as_list() == [1, 1, 1, 1536]
  assert end_points['global_pool'] is net
  assert end_points['Mixed_7d'].shape.as_list() == [1, 3, 3, 1536]
  for name in ('Logits', 'AuxLogits', 'Predictions', 'PreLogitsFlatten'):
    assert name not in end_points
  assert not _names('InceptionV4/Logits', built)
  assert not _names('InceptionV4/AuxLogits', built)


def test_aux_logits_can_be_left_out():
  built = _built(**_WITH_AUX)
  assert built.end_points['AuxLogits'].shape.as_list() == [1, 3]
  assert _names('InceptionV4/AuxLogits/Aux_logits', built)
  built = _built(**_INFERENCE)
  assert built.output.shape.as_list() == [2, 3]
  assert 'AuxLogits' not in built.end_points
  assert not _names('InceptionV4/AuxLogits', built)
  assert sorted(_names('InceptionV4/Logits', built)) == [
      'InceptionV4/Logits/Logits/biases', 'InceptionV4/Logits/Logits/weights']


def test_final_endpoint_stops_the_base():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 299, 299, 3])
    net, end_points = inception_v4.inception_v4_base(
        images, final_endpoint='Mixed_5a')
    assert net.shape.as_list() == [1, 35, 35, 384]
    assert sorted(end_points) == ['Conv2d_1a_3x3', 'Conv2d_2a_3x3',
                                  'Conv2d_2b_3x3', 'Mixed_3a', 'Mixed_4a',
                                  'Mixed_5a']
    assert end_points['Mixed_4a'].shape.as_list() == [1, 71, 71, 192]
    assert not _names('InceptionV4/Mixed_5b')
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='Unknown final endpoint Mixed_8a; '
                       'valid: Conv2d_1a_3x3, .*, Mixed_7c, Mixed_7d$'):
      inception_v4.inception_v4_base(
          tf.placeholder(tf.float32, SMALL), final_endpoint='Mixed_8a')
    assert not tf.global_variables()  # Refused before building anything.


def test_unknown_spatial_size_uses_global_mean():
  built = _built(shape=(2, None, None, 3), num_classes=4,
                 create_aux_logits=False)
  assert built.output.shape.as_list() == [2, 4]
  assert built.end_points['global_pool'].op.type == 'Mean'


def test_weight_decay_regularises_every_weight():
  built = _built(**_WITH_AUX)
  with built.graph.as_default():
    weights = [v for v in tf.trainable_variables()
               if v.op.name.endswith('/weights')]
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    # 149 trunk convs, 2 auxiliary convs, 2 fully connected layers.
    assert len(losses) == len(weights) == 149 + 2 + 2
    assert not [v for v in tf.global_variables() if 'gamma' in v.op.name]


def test_inference_gives_probabilities():
  built = _built(**_INFERENCE)
  assert built.end_points['Mixed_7d'].shape.as_list() == [2, 1, 1, 1536]
  batch = np.random.RandomState(0).uniform(-1, 1, [2, 75, 75, 3])
  with built_networks.session(built) as sess:
    out, probabilities = sess.run(
        [built.output, built.end_points['Predictions']],
        {built.images: batch})
    again = sess.run(built.output, {built.images: batch})
  assert out.shape == (2, 3)
  assert np.all(np.isfinite(out))
  np.testing.assert_array_equal(out, again)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
