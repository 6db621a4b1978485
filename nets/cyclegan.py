"""The CycleGAN ResNet generator (research/slim's nets/cyclegan.py).

Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks", https://arxiv.org/abs/1703.10593 (section 4 and
appendix 7.2): a 7x7 stem, two stride-2 convolutions, `num_resnet_blocks`
residual blocks, two 2x upsamplings and a 7x7 output convolution, all with
instance normalisation and reflection padding, so that the output has the
input's shape. It builds in the caller's variable scope, as research/slim's
does, under `input/`, `encoder/`, `residual_blocks/block_<i>/`,
`decoder/decoder1|2/upconv/` and `output/`.

End points: `encoder_0` .. `encoder_2`, `resnet_block_<i>`, `decoder1`,
`decoder2`, `logits` and `predictions` (tanh of the logits, plus
`tanh_linear_slope` times them).
"""

import numpy as np
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.core.errors import UserError

_UPSAMPLE_METHODS = ('nn_upsample_conv', 'bilinear_upsample_conv',
                     'conv2d_transpose')


def cyclegan_arg_scope(instance_norm_center=True, instance_norm_scale=True,
                       instance_norm_epsilon=0.001, weights_init_stddev=0.02,
                       weight_decay=0.0):
  """Instance-normalised convolutions with N(0, weights_init_stddev) weights.

  Args:
    instance_norm_center: learn an instance-norm offset (`beta`).
    instance_norm_scale: learn an instance-norm scale (`gamma`).
    instance_norm_epsilon: added to the variance before dividing.
    weights_init_stddev: standard deviation of the initial conv weights.
    weight_decay: L2 strength on the conv weights; 0 adds no regulariser.

  Returns:
    An arg_scope dict for `slim.arg_scope`.
  """
  regularizer = (slim.l2_regularizer(weight_decay)
                 if weight_decay and weight_decay > 0 else None)
  with slim.arg_scope(
      [slim.conv2d],
      normalizer_fn=slim.instance_norm,
      normalizer_params={'center': instance_norm_center,
                         'scale': instance_norm_scale,
                         'epsilon': instance_norm_epsilon},
      weights_initializer=tf.random_normal_initializer(
          0.0, weights_init_stddev),
      weights_regularizer=regularizer) as scope:
    return scope


def _reflect(net, pad_before, pad_after, pad_mode='REFLECT'):
  """Pads height and width by [before, after] each (lists of 2 ints)."""
  paddings = np.array([[0, 0], [pad_before[0], pad_after[0]],
                       [pad_before[1], pad_after[1]], [0, 0]], np.int32)
  return tf.pad(net, paddings, mode=pad_mode)


def cyclegan_upsample(net, num_outputs, stride, method='conv2d_transpose',
                      pad_mode='REFLECT', align_corners=False):
  """Upsamples net [batch, h, w, c] to [batch, h * stride[0], w * stride[1],
  num_outputs], under variable scope `upconv`.

  Args:
    net: 4-D float Tensor.
    num_outputs: channels of the output.
    stride: [height factor, width factor].
    method: 'conv2d_transpose' (a 3x3 transposed convolution, cropped by one
      pixel so that even sizes line up with the encoder's), or
      'nn_upsample_conv' / 'bilinear_upsample_conv' (a resize, then a
      reflection-padded 3x3 convolution).
    pad_mode: tf.pad mode of the resize methods' padding.
    align_corners: for 'bilinear_upsample_conv', align the corner pixels.

  Returns:
    The upsampled Tensor.

  Raises:
    ValueError: for an unknown method.
  """
  if method not in _UPSAMPLE_METHODS:
    raise UserError('Unknown method: [%s]; valid: %s' %
                    (method, ', '.join(_UPSAMPLE_METHODS)))
  with tf.variable_scope('upconv'):
    if method == 'conv2d_transpose':
      # A VALID 3x3 transposed conv gives 2h + 1; dropping the first row and
      # column aligns it with the SAME-style encoder.
      net = slim.conv2d_transpose(net, num_outputs, kernel_size=[3, 3],
                                  stride=stride, padding='VALID')
      return net[:, 1:, 1:, :]
    shape = tf.shape(net)
    size = [shape[1] * stride[0], shape[2] * stride[1]]
    resize = (tf.image.ResizeMethod.NEAREST_NEIGHBOR
              if method == 'nn_upsample_conv' else
              tf.image.ResizeMethod.BILINEAR)
    net = tf.image.resize(net, size, method=resize,
                          align_corners=align_corners)
    net = _reflect(net, [1, 1], [1, 1], pad_mode)
    # Keyword kernel_size: the generator's arg scope sets it too.
    return slim.conv2d(net, num_outputs, kernel_size=[3, 3], padding='VALID')


def _check_input(images):
  """Raises unless height and width (where known) are multiples of 4."""
  shape = images.shape.as_list()
  if len(shape) != 4:
    raise UserError('cyclegan_generator_resnet needs images [batch, height, '
                    'width, channels], got shape %s.' % shape)
  for axis, name in ((1, 'height'), (2, 'width')):
    if shape[axis] and shape[axis] % 4:
      raise UserError('The input %s must be a multiple of 4. Got %d (input '
                      'shape %s): the two stride-2 stages must divide it.' %
                      (name, shape[axis], shape))


def _kernel_pads(kernel_size):
  """(before, after) reflection pads that keep the size of a VALID conv."""
  if not isinstance(kernel_size, (list, tuple)):
    kernel_size = [kernel_size, kernel_size]
  before = [(k - 1) // 2 for k in kernel_size]
  after = [k // 2 for k in kernel_size]
  return list(kernel_size), before, after


def _conv_scope(kernel_size, stride, **kwargs):
  """The ReLU convolutions of one stage (VALID unless padding is given)."""
  kwargs.setdefault('padding', 'VALID')
  return slim.arg_scope([slim.conv2d], kernel_size=kernel_size, stride=stride,
                        activation_fn=tf.nn.relu, **kwargs)


def _encoder(images, num_filters, pads, end_points):
  """7x7 stem, then two stride-2 convs doubling the channels each time."""
  kernel_size, before, after = pads
  with tf.variable_scope('input'):
    net = slim.conv2d(_reflect(images, [3, 3], [3, 3]), num_filters, [7, 7],
                      padding='VALID')
    end_points['encoder_0'] = net
  with tf.variable_scope('encoder'), _conv_scope(kernel_size, 2):
    for index in (1, 2):
      net = slim.conv2d(_reflect(net, before, after),
                        num_filters * 2 ** index)
      end_points['encoder_%d' % index] = net
  return net


def _residual_blocks(net, num_blocks, depth, pads, end_points):
  """Blocks of pad-conv-relu, pad-conv, plus the block input."""
  kernel_size, before, after = pads
  with tf.variable_scope('residual_blocks'), _conv_scope(kernel_size, 1):
    for block in range(num_blocks):
      with tf.variable_scope('block_%d' % block):
        branch = slim.conv2d(_reflect(net, before, after), depth)
        branch = slim.conv2d(_reflect(branch, before, after), depth,
                             activation_fn=None)
        net += branch
      end_points['resnet_block_%d' % block] = net
  return net


def _decoder(net, num_filters, upsample_fn, kernel_size, end_points):
  """Two 2x upsamplings, to 2 * num_filters, then num_filters channels."""
  with tf.variable_scope('decoder'), _conv_scope(kernel_size, 1,
                                                 padding='SAME'):
    for name, depth in (('decoder1', num_filters * 2),
                        ('decoder2', num_filters)):
      with tf.variable_scope(name):
        net = upsample_fn(net, num_outputs=depth, stride=[2, 2])
      end_points[name] = net
  return net


def _output(net, images, tanh_linear_slope, end_points):
  """7x7 conv back to the input's channels; its logits and predictions."""
  with tf.variable_scope('output'):
    logits = slim.conv2d(_reflect(net, [3, 3], [3, 3]),
                         images.shape.as_list()[3], [7, 7],
                         activation_fn=None, normalizer_fn=None,
                         padding='VALID')
    # The input's static shape where known (fully), else its dynamic one.
    shape = (images.shape.as_list() if images.shape.is_fully_defined()
             else tf.shape(images))
    logits = tf.reshape(logits, shape)
    end_points['logits'] = logits
    end_points['predictions'] = tf.tanh(logits) + logits * tanh_linear_slope
  return end_points['predictions']


def cyclegan_generator_resnet(images, arg_scope_fn=cyclegan_arg_scope,
                              num_resnet_blocks=6, num_filters=64,
                              upsample_fn=cyclegan_upsample, kernel_size=3,
                              tanh_linear_slope=0.0, is_training=False):
  """The CycleGAN ResNet generator; output shape = input shape.

  Args:
    images: float Tensor [batch, height, width, channels]; height and width
      must be multiples of 4 (checked where they are known at build time).
    arg_scope_fn: returns the arg scope the network is built in.
    num_resnet_blocks: residual blocks between encoder and decoder (the
      paper: 6 for 128x128 images, 9 for 256x256).
    num_filters: channels of the stem; the encoder doubles them twice.
    upsample_fn: fn(net, num_outputs, stride) of each decoder stage.
    kernel_size: int or [height, width] of the inner convolutions.
    tanh_linear_slope: adds this times the logits to the tanh output.
    is_training: unused (no batch norm or dropout); kept for the interface
      the other generators share.

  Returns:
    (predictions [batch, height, width, channels], end_points).

  Raises:
    ValueError: a known height or width that is not a multiple of 4.
  """
  del is_training
  _check_input(images)
  pads = _kernel_pads(kernel_size)
  end_points = {}
  with slim.arg_scope(arg_scope_fn()):
    net = _encoder(images, num_filters, pads, end_points)
    net = _residual_blocks(net, num_resnet_blocks, num_filters * 4, pads,
                           end_points)
    net = _decoder(net, num_filters, upsample_fn, pads[0], end_points)
    return _output(net, images, tanh_linear_slope, end_points), end_points
