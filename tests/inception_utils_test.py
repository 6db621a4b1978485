"""nets/inception_utils.py: the Inception arg scope and the v1-v3 head."""

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import inception_utils
from slimvision.nets import inception_v1
from slimvision.nets import inception_v2
from slimvision.nets import inception_v3


def _names(prefix):
  return [v.op.name for v in tf.global_variables()
          if v.op.name.startswith(prefix)]


def test_inception_without_classes_returns_pooled_features():
  # research/slim: the pre-logits pool (fixed-size unless global_pool).
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 224, 224, 3])
    with slim.arg_scope(inception_v1.inception_v1_arg_scope()):
      net, end_points = inception_v1.inception_v1(images, num_classes=0)
    assert net.shape.as_list() == [1, 1, 1, 1024]
    assert end_points['AvgPool_0a_7x7'] is net
    assert net.op.name == 'InceptionV1/Logits/AvgPool_0a_7x7/AvgPool'
    assert not _names('InceptionV1/Logits')
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 299, 299, 3])
    with slim.arg_scope(inception_v3.inception_v3_arg_scope()):
      net, end_points = inception_v3.inception_v3(
          images, num_classes=None, global_pool=True)
    assert net.shape.as_list() == [1, 1, 1, 2048]
    assert end_points['global_pool'] is net
    assert 'AvgPool_1a' not in end_points
    assert not _names('InceptionV3/AuxLogits')
    assert not _names('InceptionV3/Logits')


def test_inception_head_end_points():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [2, 224, 224, 3])
    with slim.arg_scope(inception_v1.inception_v1_arg_scope()):
      logits, end_points = inception_v1.inception_v1(images, num_classes=7)
    assert logits.shape.as_list() == [2, 7]
    assert end_points['AvgPool_0a_7x7'].shape.as_list() == [2, 1, 1, 1024]
    assert end_points['Logits'] is logits
    assert end_points['Predictions'].op.name == (
        'InceptionV1/Logits/Predictions/Reshape_1')
    assert inception_v1.inception_v1.default_image_size == 224



def test_inception_arg_scope_options():
  scope = inception_utils.inception_arg_scope(
      weight_decay=0.5, use_batch_norm=True, batch_norm_decay=0.9,
      batch_norm_epsilon=0.01, activation_fn=tf.nn.relu6,
      batch_norm_updates_collections='my_updates', batch_norm_scale=True)
  conv = scope[slim.arg_scope_func_key(slim.conv2d)]
  assert conv['activation_fn'] is tf.nn.relu6
  assert conv['normalizer_fn'] is slim.batch_norm
  assert conv['normalizer_params'] == {
      'decay': 0.9, 'epsilon': 0.01, 'updates_collections': 'my_updates',
      'fused': None, 'scale': True}
  fully_connected = scope[slim.arg_scope_func_key(slim.fully_connected)]
  assert 'weights_regularizer' in fully_connected
  assert 'normalizer_fn' not in fully_connected
  without = inception_utils.inception_arg_scope(use_batch_norm=False)
  conv = without[slim.arg_scope_func_key(slim.conv2d)]
  assert conv['normalizer_fn'] is None and conv['normalizer_params'] == {}


def test_trunc_normal_is_research_slims_name_in_each_inception_module():
  for module in (inception_v1, inception_v2, inception_v3):
    assert module.trunc_normal is inception_utils.trunc_normal
  initializer = inception_utils.trunc_normal(0.01)
  assert initializer.mean == 0.0 and initializer.stddev == 0.01
