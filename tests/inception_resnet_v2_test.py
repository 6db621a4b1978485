"""Inception-ResNet-v2: the options of the network function and its base."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

import built_networks
from slimvision.nets import inception_resnet_v2 as irv2

# 139x139 is about the smallest input for which the auxiliary head fits
# (PreAuxLogits 7x7 >= its 5x5 pool).
SMALL = [1, 139, 139, 3]


def _build(shape=SMALL, weight_decay=0.0, **kwargs):
  images = tf.placeholder(tf.float32, shape)
  with slim.arg_scope(irv2.inception_resnet_v2_arg_scope(
      weight_decay=weight_decay)):
    logits, end_points = irv2.inception_resnet_v2(images, **kwargs)
  return images, logits, end_points


# Each full build takes tens of seconds on 2 cores: the tests below share
# them, one per distinct set of options, in finalized graphs.
_built = built_networks.shared(
    lambda shape=tuple(SMALL), **kwargs: _build(list(shape), **kwargs))

# The inference builds, by activation function. The relu one leaves the
# auxiliary head out, which lets it run on 75x75 images; the relu6 one keeps
# the head (and weight decay) at 139x139, so the weight decay test reads it.
_INFERENCE = {
    tf.nn.relu: dict(shape=(2, 75, 75, 3), num_classes=3, is_training=False,
                     create_aux_logits=False, activation_fn=tf.nn.relu),
    tf.nn.relu6: dict(shape=(2, 139, 139, 3), num_classes=3,
                      is_training=False, weight_decay=0.1,
                      activation_fn=tf.nn.relu6)}


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
  assert end_points['PreAuxLogits'].shape.as_list() == [1, 7, 7, 1088]
  for name in ('Logits', 'AuxLogits', 'Predictions', 'PreLogitsFlatten'):
    assert name not in end_points
  assert not _names('InceptionResnetV2/Logits', built)
  assert not _names('InceptionResnetV2/AuxLogits', built)


def test_aux_logits_can_be_left_out():
  # The relu inference build: 2 images, 3 classes, create_aux_logits=False.
  built = _built(**_INFERENCE[tf.nn.relu])
  end_points = built.end_points
  assert built.output.shape.as_list() == [2, 3]
  assert 'AuxLogits' not in end_points
  assert not _names('InceptionResnetV2/AuxLogits', built)
  assert end_points['PreLogitsFlatten'].shape.as_list() == [2, 1536]
  # The head is there when asked for (the relu6 build).
  assert _built(**_INFERENCE[tf.nn.relu6]).end_points[
      'AuxLogits'].shape.as_list() == [2, 3]


def test_final_endpoint_and_output_stride_8():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, SMALL)
    net, end_points = irv2.inception_resnet_v2_base(
        images, final_endpoint='PreAuxLogits', output_stride=8)
    # Mixed_6a keeps stride 1 (15x15 -> 13x13, not 7x7); Block17 convs
    # become atrous.
    assert net.shape.as_list() == [1, 13, 13, 1088]
    assert 'Mixed_7a' not in end_points
    assert not _names('InceptionResnetV2/Mixed_7a')
    assert len(_names('InceptionResnetV2/Repeat_1/block17_20/')) > 0
    block_ops = [op for op in tf.get_default_graph().get_operations()
                 if '/block17_1/' in op.name]
    assert any(op.type == 'SpaceToBatchND' or (
        op.type == 'Conv2D' and op.get_attr('dilations')[1] == 2)
               for op in block_ops)
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='PreAuxLogits'):
      irv2.inception_resnet_v2_base(tf.placeholder(tf.float32, SMALL),
                                    output_stride=8)
    assert not tf.global_variables()  # Refused before building anything.
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='Unknown final endpoint Mixed_6b; '
                       'valid: Conv2d_1a_3x3, .*, PreAuxLogits, Mixed_7a, '
                       'Conv2d_7b_1x1$'):
      irv2.inception_resnet_v2_base(tf.placeholder(tf.float32, SMALL),
                                    final_endpoint='Mixed_6b')
    assert not tf.global_variables()
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='output_stride'):
      irv2.inception_resnet_v2_base(tf.placeholder(tf.float32, SMALL),
                                    output_stride=32)


def test_align_feature_maps_pads_same():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 64, 64, 3])
    _, end_points = irv2.inception_resnet_v2_base(
        images, final_endpoint='Mixed_6a', align_feature_maps=True)
    assert end_points['Conv2d_1a_3x3'].shape.as_list() == [1, 32, 32, 32]
    assert end_points['MaxPool_5a_3x3'].shape.as_list() == [1, 8, 8, 192]
    assert end_points['Mixed_6a'].shape.as_list() == [1, 4, 4, 1088]


def test_weight_decay_covers_weights_and_biases():
  # The relu6 inference build: weight decay 0.1, 3 classes, aux head.
  built = _built(**_INFERENCE[tf.nn.relu6])
  with built.graph.as_default():
    regularised = [v for v in tf.trainable_variables()
                   if v.op.name.endswith(('/weights', '/biases'))]
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
  # 248 weights; biases of the 40 residual projections and 2 fc layers.
  assert len(regularised) == len(losses) == 248 + 42


@pytest.mark.parametrize('activation_fn', [tf.nn.relu, tf.nn.relu6])
def test_inference_gives_probabilities(activation_fn):
  options = _INFERENCE[activation_fn]
  built = _built(**options)
  shape = list(options['shape'])
  # 75x75 pools to 1x1 before global pooling, 139x139 to 3x3.
  side = {75: 1, 139: 3}[shape[1]]
  assert built.end_points['Conv2d_7b_1x1'].shape.as_list() == [
      2, side, side, 1536]
  ops = {op.type for op in built.graph.get_operations()}
  assert activation_fn.__name__.capitalize() in ops
  batch = np.random.RandomState(0).uniform(-1, 1, shape)
  with built_networks.session(built) as sess:
    out, probabilities = sess.run(
        [built.output, built.end_points['Predictions']],
        {built.images: batch})
    again = sess.run(built.output, {built.images: batch})
  assert out.shape == (2, 3)
  assert np.all(np.isfinite(out))
  np.testing.assert_array_equal(out, again)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
