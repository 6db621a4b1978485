"""MobileNet v1: a real TF-Slim checkpoint restores, and the options work."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from conftest import shared_path
from slimvision.nets import mobilenet_v1

VWW_CHECKPOINT = ('checkpoints', 'mobilenet_v1_025_vww', 'model.ckpt-963849')


def _build(images_shape, fn=mobilenet_v1.mobilenet_v1, weight_decay=0.0,
           **kwargs):
  images = tf.placeholder(tf.float32, images_shape)
  with slim.arg_scope(mobilenet_v1.mobilenet_v1_arg_scope(
      weight_decay=weight_decay)):
    logits, end_points = fn(images, **kwargs)
  return images, logits, end_points


def test_visual_wake_words_checkpoint_restores():
  # A published TF-Slim training run: mobilenet_v1_025 on 96x96 grayscale
  # images with 2 classes (person / no person).
  # Skips (naming the missing path) where ../shared is absent.
  index = shared_path(*VWW_CHECKPOINT[:-1], VWW_CHECKPOINT[-1] + '.index')
  checkpoint = index[:-len('.index')]
  in_checkpoint = dict(tf.train.list_variables(checkpoint))
  with tf.Graph().as_default():
    images, logits, end_points = _build(
        [1, 96, 96, 1], fn=mobilenet_v1.mobilenet_v1_025, num_classes=2,
        is_training=False)
    model_variables = tf.model_variables()
    assert len(model_variables) == 137  # 27 convs + 27 batch norms + logits
    assert set(v.op.name for v in tf.global_variables()) == set(
        v.op.name for v in model_variables)
    for variable in model_variables:
      name = variable.op.name
      assert name in in_checkpoint, name
      assert in_checkpoint[name] == variable.shape.as_list(), name
    assert logits.shape.as_list() == [1, 2]
    assert end_points['Conv2d_0'].shape.as_list() == [1, 48, 48, 8]
    assert end_points['Conv2d_13_pointwise'].shape.as_list() == [1, 3, 3, 256]

    saver = tf.train.Saver(model_variables)
    with tf.Session() as sess:
      saver.restore(sess, checkpoint)
      weights = sess.run([v for v in model_variables if v.op.name ==
                          'MobilenetV1/Logits/Conv2d_1c_1x1/weights'][0])
      batch = np.random.RandomState(0).uniform(
          -1, 1, [1, 96, 96, 1]).astype(np.float32)
      probabilities = sess.run(end_points['Predictions'], {images: batch})
  np.testing.assert_array_equal(
      weights, tf.train.load_variable(
          checkpoint, 'MobilenetV1/Logits/Conv2d_1c_1x1/weights'))
  assert probabilities.shape == (1, 2)
  assert np.all(np.isfinite(probabilities))
  np.testing.assert_allclose(probabilities.sum(), 1.0, rtol=1e-5)


def test_width_variants_are_partials_with_image_size():
  for fn, multiplier in [(mobilenet_v1.mobilenet_v1_075, 0.75),
                         (mobilenet_v1.mobilenet_v1_050, 0.5),
                         (mobilenet_v1.mobilenet_v1_025, 0.25)]:
    assert fn.keywords == {'depth_multiplier': multiplier}
    assert fn.default_image_size == 224


def test_num_classes_zero_returns_pooled_features():
  with tf.Graph().as_default():
    _, net, end_points = _build([2, 64, 64, 3], num_classes=0,
                                depth_multiplier=0.25)
    # 64 / 32 = 2x2 final map; the 7x7 pool shrinks to 2x2.
    assert net.shape.as_list() == [2, 1, 1, 256]
    assert 'Logits' not in end_points and 'Predictions' not in end_points
    assert not [v for v in tf.global_variables() if 'Logits' in v.op.name]


def test_final_endpoint_stops_early():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 64, 64, 3])
    net, end_points = mobilenet_v1.mobilenet_v1_base(
        images, final_endpoint='Conv2d_3_depthwise', depth_multiplier=0.5)
    assert net is end_points['Conv2d_3_depthwise']
    assert net.shape.as_list() == [1, 16, 16, 64]
    assert sorted(end_points) == sorted([
        'Conv2d_0', 'Conv2d_1_depthwise', 'Conv2d_1_pointwise',
        'Conv2d_2_depthwise', 'Conv2d_2_pointwise', 'Conv2d_3_depthwise'])
    assert not [v for v in tf.global_variables()
                if 'Conv2d_3_pointwise' in v.op.name]
    with pytest.raises(ValueError, match='Unknown final endpoint'):
      mobilenet_v1.mobilenet_v1_base(images, final_endpoint='Conv2d_14')


def test_global_pool_on_non_default_input_size():
  with tf.Graph().as_default():
    images, logits, end_points = _build(
        [1, 128, 128, 3], num_classes=5, depth_multiplier=0.25,
        global_pool=True, is_training=False)
    assert end_points['global_pool'].shape.as_list() == [1, 1, 1, 256]
    assert 'AvgPool_1a' not in end_points
    assert logits.shape.as_list() == [1, 5]
  # Unknown spatial size: the global pool still gives one vector per image.
  with tf.Graph().as_default():
    images, logits, end_points = _build(
        [1, None, None, 3], num_classes=5, depth_multiplier=0.25,
        global_pool=True, is_training=False)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      out = sess.run(logits, {images: np.zeros([1, 160, 96, 3], np.float32)})
    assert out.shape == (1, 5)


def test_depth_multiplier_and_min_depth_set_channels():
  with tf.Graph().as_default():
    _, _, end_points = _build([1, 64, 64, 3], num_classes=3,
                              depth_multiplier=0.5)
    assert end_points['Conv2d_0'].shape.as_list()[-1] == 16
    assert end_points['Conv2d_1_pointwise'].shape.as_list()[-1] == 32
    assert end_points['Conv2d_13_pointwise'].shape.as_list()[-1] == 512
  with tf.Graph().as_default():
    _, _, end_points = _build([1, 64, 64, 3], num_classes=3,
                              depth_multiplier=0.1, min_depth=16)
    # 32 * 0.1 = 3.2 is raised to min_depth; 1024 * 0.1 = 102.
    assert end_points['Conv2d_0'].shape.as_list()[-1] == 16
    assert end_points['Conv2d_13_pointwise'].shape.as_list()[-1] == 102
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='depth_multiplier'):
      _build([1, 64, 64, 3], depth_multiplier=0.0)


def test_explicit_padding_and_output_stride_shapes():
  with tf.Graph().as_default():
    _, _, end_points = _build([1, 64, 64, 3], num_classes=3,
                              depth_multiplier=0.25,
                              use_explicit_padding=True)
    assert end_points['Conv2d_0'].shape.as_list() == [1, 32, 32, 8]
    assert end_points['Conv2d_13_pointwise'].shape.as_list() == [1, 2, 2, 256]
  with tf.Graph().as_default():
    _, _, end_points = _build([1, 64, 64, 3], num_classes=3,
                              depth_multiplier=0.25, output_stride=16)
    # The last stride-2 layer becomes stride 1 with dilation 2.
    assert end_points['Conv2d_13_pointwise'].shape.as_list() == [1, 4, 4, 256]


def test_weight_decay_reuse_scope_and_prediction_fn():
  with tf.Graph().as_default():
    images, logits, end_points = _build(
        [1, 64, 64, 3], num_classes=4, depth_multiplier=0.25,
        weight_decay=0.01, scope='Net',
        prediction_fn=lambda x, scope: tf.sigmoid(x, name=scope))
    # 14 regular convs + logits are decayed; depthwise weights are not.
    assert len(tf.losses.get_regularization_losses()) == 15
    assert all(v.op.name.startswith('Net/') for v in tf.global_variables())
    count = len(tf.global_variables())
    with slim.arg_scope(mobilenet_v1.mobilenet_v1_arg_scope()):
      mobilenet_v1.mobilenet_v1(images, num_classes=4, depth_multiplier=0.25,
                                scope='Net', reuse=True)
    assert len(tf.global_variables()) == count
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      logit_values, predictions = sess.run(
          [logits, end_points['Predictions']],
          {images: np.ones([1, 64, 64, 3], np.float32)})
    np.testing.assert_allclose(predictions, 1 / (1 + np.exp(-logit_values)),
                               rtol=1e-5)


def test_is_training_controls_batch_norm_and_dropout():
  batch = np.random.RandomState(1).uniform(-1, 1, [2, 64, 64, 3]).astype(
      np.float32)
  with tf.Graph().as_default():
    tf.set_random_seed(0)
    images, logits, _ = _build([2, 64, 64, 3], num_classes=3,
                               depth_multiplier=0.25, is_training=False,
                               dropout_keep_prob=0.5)
    assert not tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      first, second = sess.run(logits, {images: batch}), sess.run(
          logits, {images: batch})
    np.testing.assert_array_equal(first, second)
  with tf.Graph().as_default():
    _build([2, 64, 64, 3], num_classes=3, depth_multiplier=0.25,
           is_training=True)
    # moving mean and variance of each of the 27 batch norms.
    assert len(tf.get_collection(tf.GraphKeys.UPDATE_OPS)) == 54


# research/slim's parameters of mobilenet_v1 (and its _075/_050/_025), in
# order: code calls it positionally, e.g. mobilenet_v1(x, 1001, 0.8, False).
RESEARCH_SLIM_PARAMETERS = [
    'inputs', 'num_classes', 'dropout_keep_prob', 'is_training', 'min_depth',
    'depth_multiplier', 'conv_defs', 'prediction_fn', 'spatial_squeeze',
    'reuse', 'scope', 'global_pool']


@pytest.mark.parametrize('fn', [mobilenet_v1.mobilenet_v1,
                                mobilenet_v1.mobilenet_v1_025])
def test_research_slims_positional_order_is_kept(fn):
  import inspect  # pylint: disable=g-import-not-at-top
  parameters = list(inspect.signature(fn).parameters)
  assert parameters[:len(RESEARCH_SLIM_PARAMETERS)] == RESEARCH_SLIM_PARAMETERS
  with tf.Graph().as_default():
    inputs = tf.placeholder(tf.float32, [1, 32, 32, 3])
    # keep 0.5, is_training False: batch norm reads its moving statistics
    # (no update ops) and the dropout passes its input through.
    _, end_points = fn(inputs, 3, 0.5, False)
    assert not tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert [op.type for op in tf.get_default_graph().get_operations()
            if 'Dropout_1b' in op.name] == ['Identity']
    assert end_points['Logits'].shape.as_list() == [1, 3]
