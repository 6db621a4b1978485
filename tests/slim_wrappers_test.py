"""The tf_slim.nets wrappers: the model-zoo options they add."""

import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import inception_v1
from slimvision.nets import inception_v3
from slimvision.nets import resnet_v1
from slimvision.nets import resnet_v2
from slimvision.nets import vgg


def _names(prefix):
  return [v.op.name for v in tf.global_variables()
          if v.op.name.startswith(prefix)]


@pytest.mark.parametrize('num_classes', [0, None])
def test_resnet_without_classes_returns_pooled_features(num_classes):
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 64, 64, 3])
    with slim.arg_scope(resnet_v1.resnet_arg_scope()):
      net, end_points = resnet_v1.resnet_v1_50(images,
                                               num_classes=num_classes)
    assert net.shape.as_list() == [1, 1, 1, 2048]
    assert end_points['global_pool'] is net
    assert 'predictions' not in end_points
    assert not _names('resnet_v1_50/logits')


def test_resnet_dense_prediction_options():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 65, 65, 3])
    with slim.arg_scope(resnet_v2.resnet_arg_scope()):
      logits, end_points = resnet_v2.resnet_v2_50(
          images, num_classes=5, global_pool=False, spatial_squeeze=False,
          output_stride=16)
    assert logits.shape.as_list() == [1, 5, 5, 5]
    assert 'global_pool' not in end_points
    assert 'resnet_v2_50/spatial_squeeze' not in end_points
    assert end_points['resnet_v2_50/logits'] is logits
    assert resnet_v2.resnet_v2_50.default_image_size == 224


def test_inception_without_classes_returns_pooled_features():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 224, 224, 3])
    with slim.arg_scope(inception_v1.inception_v1_arg_scope()):
      net, end_points = inception_v1.inception_v1(images, num_classes=0)
    assert net.shape.as_list() == [1, 1, 1, 1024]
    assert end_points['global_pool'] is net
    assert not _names('InceptionV1/Logits')
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 299, 299, 3])
    with slim.arg_scope(inception_v3.inception_v3_arg_scope()):
      net, _ = inception_v3.inception_v3(images, num_classes=None)
    assert net.shape.as_list() == [1, 1, 1, 2048]
    assert not _names('InceptionV3/AuxLogits')
    assert not _names('InceptionV3/Logits')


def test_inception_head_end_points():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [2, 224, 224, 3])
    with slim.arg_scope(inception_v1.inception_v1_arg_scope()):
      logits, end_points = inception_v1.inception_v1(images, num_classes=7)
    assert logits.shape.as_list() == [2, 7]
    assert end_points['AvgPool_0a_7x7'].shape.as_list() == [2, 1, 1, 1024]
    assert inception_v1.inception_v1.default_image_size == 224


def test_vgg_requires_classes():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [1, 224, 224, 3])
    with pytest.raises(ValueError, match='num_classes must be positive'):
      vgg.vgg_16(images, num_classes=0)
    assert not tf.global_variables()
  assert vgg.vgg_16.default_image_size == 224
