"""MobileNet v3 and MobileNet-EdgeTPU (nets/mobilenet/mobilenet_v3.py): their
options as the model registry uses them, and v3's own blocks."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets.mobilenet import mobilenet_v3


def _build(images_shape, fn, **kwargs):
  images = tf.placeholder(tf.float32, images_shape)
  with slim.arg_scope(mobilenet_v3.training_scope(weight_decay=0.0)):
    logits, end_points = fn(images, **kwargs)
  return images, logits, end_points


def _variable_names():
  return {v.op.name for v in tf.global_variables()}


def test_hard_activations():
  x = np.array([-4., -3., -1.5, 0., 1.5, 3., 4.], np.float32)
  with tf.Graph().as_default(), tf.Session() as sess:
    sigmoid, swish = sess.run([mobilenet_v3.hard_sigmoid(x),
                               mobilenet_v3.hard_swish(x)])
  np.testing.assert_allclose(sigmoid, [0, 0, 0.25, 0.5, 0.75, 1, 1],
                             atol=1e-6)
  np.testing.assert_allclose(swish, x * sigmoid, atol=1e-6)


def test_squeeze_excite_gates_each_channel():
  with tf.Graph().as_default():
    net = tf.constant(np.random.RandomState(0).uniform(
        0.5, 1, [2, 4, 4, 72]).astype(np.float32))
    out = mobilenet_v3.squeeze_excite(net)
    shapes = {v.op.name: v.shape.as_list() for v in tf.global_variables()}
    # 72 / 4 = 18 channels, rounded up to 24.
    assert shapes == {'squeeze_excite/Conv/weights': [1, 1, 72, 24],
                      'squeeze_excite/Conv/biases': [24],
                      'squeeze_excite/Conv_1/weights': [1, 1, 24, 72],
                      'squeeze_excite/Conv_1/biases': [72]}
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      inputs, outputs = sess.run([net, out])
  gate = outputs / inputs
  # One gate in [0, 1] per image and channel, constant over space.
  np.testing.assert_allclose(gate, np.broadcast_to(gate[:, :1, :1, :],
                                                   gate.shape), rtol=1e-5)
  assert gate.min() >= 0 and gate.max() <= 1


@pytest.mark.parametrize('fn,channels,layers', [
    (mobilenet_v3.large, 1280, 19),
    (mobilenet_v3.small, 1024, 15),
    (mobilenet_v3.large_minimalistic, 1280, 19),
    (mobilenet_v3.small_minimalistic, 1024, 15),
    (mobilenet_v3.edge_tpu, 1280, 24),
    (mobilenet_v3.edge_tpu_075, 1280, 24),
], ids=['large', 'small', 'large_min', 'small_min', 'edgetpu', 'edgetpu_075'])
def test_num_classes_zero_returns_pooled_features(fn, channels, layers):
  with tf.Graph().as_default():
    _, net, end_points = _build([1, 64, 64, 3], fn, num_classes=0)
    assert net.shape.as_list() == [1, 1, 1, channels]
    assert net is end_points['global_pool']
    assert 'layer_%d' % layers in end_points
    assert 'layer_%d' % (layers + 1) not in end_points
    assert 'Logits' not in end_points
  assert fn.default_image_size == 224


def test_large_head_and_squeeze_excite_placement():
  with tf.Graph().as_default():
    _, logits, end_points = _build([1, 128, 128, 3], mobilenet_v3.large,
                                   num_classes=10)
    names = _variable_names()
    assert logits.shape.as_list() == [1, 10]
    # 128 / 32 = 4x4, pooled to 1x1 before the last (bias, no BN) conv.
    assert end_points['layer_17'].shape.as_list() == [1, 4, 4, 960]
    assert end_points['layer_18'].shape.as_list() == [1, 1, 1, 960]
    assert 'MobilenetV3/Conv_2/biases' in names
    assert not [n for n in names if n.startswith('MobilenetV3/Conv_2/Batch')]
    with_se = sorted(int(n.split('/')[1].split('_')[-1]) for n in names
                     if n.endswith('squeeze_excite/Conv/weights'))
    assert with_se == [3, 4, 5, 10, 11, 12, 13, 14]
  with tf.Graph().as_default():
    _build([1, 128, 128, 3], mobilenet_v3.large_minimalistic, num_classes=10)
    names = _variable_names()
    assert not [n for n in names if 'squeeze_excite' in n]
    assert not [n for n in names if n.endswith('depthwise_weights') and
                not n.startswith('MobilenetV3/expanded_conv')]


def test_activations_follow_the_variant():
  def activation_types(fn):
    with tf.Graph().as_default():
      _build([1, 64, 64, 3], fn, num_classes=3)
      ops = tf.get_default_graph().get_operations()
      return ({op.name.split('/')[1] for op in ops if '/hard_swish/' in
               op.name}, {op.type for op in ops})

  hard_swish_layers, op_types = activation_types(mobilenet_v3.small)
  assert {'Conv', 'Conv_1', 'Conv_2', 'expanded_conv_3'} <= hard_swish_layers
  assert 'expanded_conv_1' not in hard_swish_layers
  hard_swish_layers, op_types = activation_types(
      mobilenet_v3.small_minimalistic)
  assert not hard_swish_layers
  assert 'Relu' in op_types and 'Relu6' not in op_types


def test_edge_tpu_fused_blocks_and_depth_multiplier():
  with tf.Graph().as_default():
    _, _, end_points = _build([1, 64, 64, 3], mobilenet_v3.edge_tpu_075,
                              num_classes=3, final_endpoint='layer_11')
    names = _variable_names()
    # Fused blocks: a full 3x3 expansion conv with the stride, no depthwise.
    assert 'MobilenetEdgeTPU/expanded_conv_1/expand/weights' in names
    assert not [n for n in names if 'depthwise' in n and
                'expanded_conv_9' not in n]
    assert 'layer_3/depthwise_output' not in end_points
    assert end_points['layer_3/expansion_output'].shape.as_list() == [
        1, 16, 16, 128]
    assert end_points['layer_1'].shape.as_list()[-1] == 24    # 32 * 0.75
    assert end_points['layer_11'].shape.as_list() == [1, 4, 4, 72]
    assert not [n for n in names if 'expanded_conv_10' in n]
    assert 'Logits' in end_points


def test_inference_is_deterministic_with_reuse_and_unknown_size():
  batch = np.random.RandomState(0).uniform(-1, 1, [2, 96, 80, 3]).astype(
      np.float32)
  with tf.Graph().as_default():
    images, logits, end_points = _build([2, None, None, 3],
                                        mobilenet_v3.small, num_classes=5,
                                        is_training=False)
    count = len(tf.global_variables())
    with slim.arg_scope(mobilenet_v3.training_scope()):
      logits_again, _ = mobilenet_v3.small(images, num_classes=5,
                                           is_training=False, reuse=True)
    assert len(tf.global_variables()) == count
    assert not tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      first, second, probabilities = sess.run(
          [logits, logits_again, end_points['Predictions']], {images: batch})
  assert first.shape == (2, 5)
  assert np.all(np.isfinite(first))
  np.testing.assert_array_equal(first, second)
  np.testing.assert_allclose(probabilities.sum(axis=1), [1, 1], rtol=1e-5)
