"""CycleGAN ResNet generator: research/slim's shapes, names and errors."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from slimvision.core.errors import UserError
from slimvision.nets import cyclegan


def _variables():
  return {v.op.name: v.shape.as_list() for v in tf.global_variables()}


def _generator(shape, **kwargs):
  images = tf.placeholder(tf.float32, shape)
  output, end_points = cyclegan.cyclegan_generator_resnet(
      images, num_filters=4, **kwargs)
  return images, output, end_points


def test_variables_and_end_points():
  with tf.Graph().as_default():
    _, output, end_points = _generator([2, 16, 24, 3], num_resnet_blocks=2)
    assert output.shape.as_list() == [2, 16, 24, 3]
    assert {name: t.shape.as_list() for name, t in end_points.items()} == {
        'encoder_0': [2, 16, 24, 4], 'encoder_1': [2, 8, 12, 8],
        'encoder_2': [2, 4, 6, 16], 'resnet_block_0': [2, 4, 6, 16],
        'resnet_block_1': [2, 4, 6, 16], 'decoder1': [2, 8, 12, 8],
        'decoder2': [2, 16, 24, 4], 'logits': [2, 16, 24, 3],
        'predictions': [2, 16, 24, 3]}
    assert end_points['predictions'] is output
    variables = _variables()
    # No outer scope; instance norm (no biases) except the transposed convs
    # and the output layer.
    assert variables['input/Conv/weights'] == [7, 7, 3, 4]
    assert variables['input/Conv/InstanceNorm/gamma'] == [4]
    assert variables['encoder/Conv_1/weights'] == [3, 3, 8, 16]
    assert variables['residual_blocks/block_1/Conv_1/weights'] == [
        3, 3, 16, 16]
    assert variables['decoder/decoder1/upconv/Conv2d_transpose/weights'] == [
        3, 3, 8, 16]
    assert variables['decoder/decoder2/upconv/Conv2d_transpose/biases'] == [4]
    assert variables['output/Conv/weights'] == [7, 7, 4, 3]
    assert variables['output/Conv/biases'] == [3]
    assert len(variables) == 3 * 3 + 2 * 2 * 3 + 2 * 2 + 2


@pytest.mark.parametrize('method', ['nn_upsample_conv',
                                    'bilinear_upsample_conv'])
def test_resize_upsampling_keeps_the_shape(method):
  def upsample(net, num_outputs, stride):
    return cyclegan.cyclegan_upsample(net, num_outputs, stride, method=method)

  with tf.Graph().as_default():
    _, output, _ = _generator([1, 12, 20, 3], num_resnet_blocks=0,
                              upsample_fn=upsample)
    assert output.shape.as_list() == [1, 12, 20, 3]
    variables = _variables()
    assert variables['decoder/decoder1/upconv/Conv/weights'] == [3, 3, 16, 8]
    assert 'decoder/decoder1/upconv/Conv/InstanceNorm/beta' in variables


@pytest.mark.parametrize('kernel_size', [3, 4, 5, 6, [3, 5]])
def test_inner_kernel_sizes_keep_the_shape(kernel_size):
  with tf.Graph().as_default():
    _, output, _ = _generator([None, 32, 32, 3], num_resnet_blocks=1,
                              kernel_size=kernel_size)
    assert output.shape.as_list() == [None, 32, 32, 3]
    height, width = (kernel_size if isinstance(kernel_size, list)
                     else [kernel_size] * 2)
    assert _variables()['encoder/Conv/weights'] == [height, width, 4, 8]


def test_unknown_sizes_run_and_predictions_follow_the_slope():
  with tf.Graph().as_default():
    images, output, end_points = _generator(
        [None, None, None, 1], num_resnet_blocks=1, tanh_linear_slope=0.5)
    assert output.shape.as_list() == [None, None, None, 1]
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      batch = np.random.RandomState(0).uniform(-1, 1, [2, 8, 12, 1])
      predictions, logits = sess.run(
          [output, end_points['logits']], {images: batch})
    assert predictions.shape == (2, 8, 12, 1)
    np.testing.assert_allclose(predictions, np.tanh(logits) + 0.5 * logits,
                               rtol=1e-5, atol=1e-6)


def test_arg_scope_weight_decay_and_instance_norm_options():
  def arg_scope():
    return cyclegan.cyclegan_arg_scope(instance_norm_center=False,
                                       weight_decay=0.1)

  with tf.Graph().as_default():
    _generator([1, 8, 8, 3], num_resnet_blocks=0, arg_scope_fn=arg_scope)
    variables = _variables()
    assert not [name for name in variables if name.endswith('/beta')]
    assert 'input/Conv/InstanceNorm/gamma' in variables
    # One L2 loss per conv weight (input, 2 encoder, output); the
    # transposed convs are outside the arg scope, as in research/slim.
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert len(losses) == 4


@pytest.mark.parametrize('shape, name', [([1, 30, 32, 3], 'height'),
                                         ([1, 32, 29, 3], 'width')])
def test_sizes_not_multiples_of_4_are_refused(shape, name):
  with tf.Graph().as_default():
    with pytest.raises(UserError, match='input %s must be a multiple of 4. '
                       'Got %d' % (name, shape[1] if name == 'height'
                                   else shape[2])):
      cyclegan.cyclegan_generator_resnet(tf.zeros(shape))
    assert not tf.global_variables()


def test_unknown_upsample_method_names_the_valid_ones():
  with tf.Graph().as_default():
    with pytest.raises(UserError, match=r'Unknown method: \[nearest\]; '
                       'valid: nn_upsample_conv, bilinear_upsample_conv'):
      cyclegan.cyclegan_upsample(tf.zeros([1, 4, 4, 2]), 2, [2, 2],
                                 method='nearest')
