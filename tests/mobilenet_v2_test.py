"""MobileNet v2 (nets/mobilenet/mobilenet_v2.py): its options as the model
registry and research/slim callers use them."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

import built_networks
from slimvision.nets.mobilenet import mobilenet
from slimvision.nets.mobilenet import mobilenet_v2


def _build(images_shape, fn=mobilenet_v2.mobilenet, weight_decay=0.0,
           scope_args=None, **kwargs):
  images = tf.placeholder(tf.float32, images_shape)
  with slim.arg_scope(mobilenet_v2.training_scope(
      weight_decay=weight_decay, **(scope_args or {}))):
    logits, end_points = fn(images, **kwargs)
  return images, logits, end_points


# The 64x64, 3-class training build with weight decay 0.01: the residual
# and weight decay tests read the same graph (finalized: see built_networks).
_built_with_weight_decay = built_networks.shared(
    lambda: _build([1, 64, 64, 3], num_classes=3, weight_decay=0.01))


def _channels(end_points, name):
  return end_points[name].shape.as_list()[-1]


@pytest.mark.parametrize('value,divisor,min_value,expected', [
    (32 * 0.35, 8, None, 16),   # 8 would be more than 10% below 11.2
    (16 * 0.35, 8, None, 8),    # never below the divisor
    (96 * 0.35, 8, None, 32),
    (1280 * 1.4, 8, None, 1792),
    (18, 8, None, 24),          # squeeze-excite width of 72 channels
    (3, 8, 16, 16),
])
def test_make_divisible(value, divisor, min_value, expected):
  assert mobilenet._make_divisible(value, divisor, min_value) == expected


@pytest.mark.parametrize('fn,channels', [
    (mobilenet_v2.mobilenet, 1280),
    (mobilenet_v2.mobilenet_v2_140, 1792),
    # Fine-grain mode keeps the last layer at 1280 for thin networks.
    (mobilenet_v2.mobilenet_v2_035, 1280),
], ids=['1.0', '1.4', '0.35'])
def test_num_classes_zero_returns_pooled_features(fn, channels):
  with tf.Graph().as_default():
    _, net, end_points = _build([1, 64, 64, 3], fn=fn, num_classes=0)
    assert net.shape.as_list() == [1, 1, 1, channels]
    assert net is end_points['global_pool']
    assert 'Logits' not in end_points
    assert not [v for v in tf.global_variables() if 'Logits' in v.op.name]
  assert fn.default_image_size == 224


def test_final_endpoint_stops_early_with_block_end_points():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 64, 64, 3])
    net, end_points = mobilenet_v2.mobilenet_base(
        images, final_endpoint='layer_5')
    assert net is end_points['layer_5']
    assert net.shape.as_list() == [1, 8, 8, 32]
    assert sorted(k for k in end_points if '/' not in k) == [
        'layer_1', 'layer_2', 'layer_3', 'layer_4', 'layer_5']
    # The stride-2 block expands at the input resolution, then downsamples.
    assert end_points['layer_5/expansion_output'].shape.as_list() == [
        1, 16, 16, 144]
    assert end_points['layer_5/depthwise_output'].shape.as_list() == [
        1, 8, 8, 144]
    # The first block (expansion 1) has no expand layer.
    assert 'layer_2/expansion_output' not in end_points
    names = {v.op.name for v in tf.global_variables()}
    assert 'MobilenetV2/expanded_conv_3/project/weights' in names
    assert not [n for n in names if 'expanded_conv_4' in n]
    with pytest.raises(ValueError, match="Unknown final_endpoint 'layer_20'"):
      mobilenet_v2.mobilenet_base(images, final_endpoint='layer_20')


def test_depth_multiplier_sets_channels():
  with tf.Graph().as_default():
    _, _, end_points = _build([1, 64, 64, 3], num_classes=3,
                              depth_multiplier=0.5)
    assert _channels(end_points, 'layer_1') == 16       # 32 * 0.5
    assert _channels(end_points, 'layer_2') == 8        # 16 * 0.5
    assert _channels(end_points, 'layer_3/expansion_output') == 48  # 8 * 6
    assert _channels(end_points, 'layer_18') == 160     # 320 * 0.5
    assert _channels(end_points, 'layer_19') == 640     # no fine-grain
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='multiplier is not greater'):
      _build([1, 64, 64, 3], depth_multiplier=-1.0)


def test_residual_connections_only_where_shapes_match():
  graph = _built_with_weight_decay().graph
  with graph.as_default():
    # The residual sum is the only add directly in a block's scope (op
    # names as in the published graphs, e.g. MobilenetV2/expanded_conv_2/add).
    adds = {op.name.split('/')[1] for op in graph.get_operations()
            if op.type in ('AddV2', 'Add') and op.name.count('/') == 2 and
            op.name.startswith('MobilenetV2/expanded_conv')}
  # Residuals: stride 1 and unchanged width (24, 32x2, 64x3, 96x2, 160x2).
  assert adds == {'expanded_conv_2', 'expanded_conv_4', 'expanded_conv_5',
                  'expanded_conv_7', 'expanded_conv_8', 'expanded_conv_9',
                  'expanded_conv_11', 'expanded_conv_12', 'expanded_conv_14',
                  'expanded_conv_15'}


def test_explicit_padding_output_stride_and_unknown_size():
  with tf.Graph().as_default():
    _, _, end_points = _build([1, 64, 64, 3], num_classes=3,
                              use_explicit_padding=True)
    assert end_points['layer_1'].shape.as_list() == [1, 32, 32, 32]
    assert end_points['layer_19'].shape.as_list() == [1, 2, 2, 1280]
  with tf.Graph().as_default():
    _, _, end_points = _build([1, 64, 64, 3], num_classes=3, output_stride=16)
    assert end_points['layer_19'].shape.as_list() == [1, 4, 4, 1280]
  with tf.Graph().as_default():
    images, logits, _ = _build([2, None, None, 3], num_classes=7,
                               is_training=False)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      out = sess.run(logits, {images: np.zeros([2, 96, 64, 3], np.float32)})
    assert out.shape == (2, 7)


def test_training_scope_weight_decay_and_is_training():
  with _built_with_weight_decay().graph.as_default():
    # Conv, 16 expand + 17 project, Conv_1 and logits; no depthwise decay.
    assert len(tf.losses.get_regularization_losses()) == 36
    # is_training left to the scope (training by default): 52 batch norms
    # each update a moving mean and variance.
    assert len(tf.get_collection(tf.GraphKeys.UPDATE_OPS)) == 104
  with tf.Graph().as_default():
    _build([1, 64, 64, 3], num_classes=3, is_training=False)
    assert not tf.get_collection(tf.GraphKeys.UPDATE_OPS)
  with tf.Graph().as_default():
    _build([1, 64, 64, 3], num_classes=3,
           scope_args={'is_training': False})
    assert not tf.get_collection(tf.GraphKeys.UPDATE_OPS)


def test_inference_is_deterministic_and_reuse_shares_variables():
  batch = np.random.RandomState(0).uniform(-1, 1, [2, 64, 64, 3]).astype(
      np.float32)
  with tf.Graph().as_default():
    images, logits, end_points = _build(
        [2, 64, 64, 3], fn=mobilenet_v2.mobilenet_v2_035, num_classes=4,
        is_training=False)
    count = len(tf.global_variables())
    with slim.arg_scope(mobilenet_v2.training_scope()):
      logits_again, _ = mobilenet_v2.mobilenet_v2_035(
          images, num_classes=4, is_training=False, reuse=True)
    assert len(tf.global_variables()) == count
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      first, second, probabilities = sess.run(
          [logits, logits_again, end_points['Predictions']], {images: batch})
  assert np.all(np.isfinite(first))
  np.testing.assert_array_equal(first, second)
  np.testing.assert_allclose(probabilities.sum(axis=1), [1, 1], rtol=1e-5)
