"""The DCGAN generator and discriminator (research/slim's nets/dcgan.py).

Radford et al., "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks",
https://arxiv.org/abs/1511.06434 (section 3): strided 4x4 (transposed)
convolutions instead of pooling, batch norm everywhere except the
generator's last layer and the discriminator's first, ReLU in the
generator, leaky ReLU in the discriminator.

`generator` (scope `Generator`): a [batch, N] code -> `deconv1` (4x4) ...
`deconv<L>` (final_size x final_size, `depth` channels) -> a 1x1 conv
`logits` to num_outputs channels. `discriminator` (scope `Discriminator`):
a square, power-of-2 image -> `conv1` ... `conv<log2 size>` (1x1) -> a 1x1
conv, reshaped to `logits` [batch, 1]. End points carry the same names.
"""

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.core.errors import UserError


def _is_power_of_2(value):
  return value >= 1 and value & (value - 1) == 0


def _batch_norm_scope(is_training, fused_batch_norm):
  # Zero-debiased moving mean, as research/slim's (its variables too).
  return slim.arg_scope([slim.batch_norm], is_training=is_training,
                        zero_debias_moving_mean=True, fused=fused_batch_norm)


def _check_image(inputs):
  """Raises unless inputs is [batch, size, size, channels], size a known
  power of 2."""
  shape = inputs.get_shape()
  shape.assert_has_rank(4)  # ValueError naming the rank.
  if not shape[1:3].is_fully_defined():
    raise UserError('The discriminator needs a known height and width, got '
                    'shape %s.' % shape)
  height, width = shape.as_list()[1:3]
  if height != width:
    raise UserError('Input tensor does not have equal width and height: '
                    '%dx%d.' % (height, width))
  if not _is_power_of_2(width):
    raise UserError('Input tensor `width` is not a power of 2: %d.' % width)


def discriminator(inputs, depth=64, is_training=True, reuse=None,
                  scope='Discriminator', fused_batch_norm=False):
  """DCGAN discriminator: halves the image until it is 1x1.

  Args:
    inputs: float Tensor [batch, size, size, channels], size a power of 2
      known at build time.
    depth: channels of `conv1`; each layer doubles them.
    is_training: batch-norm mode.
    reuse: whether to reuse the variables of `scope`.
    scope: variable scope.
    fused_batch_norm: use the fused batch-norm kernel.

  Returns:
    (logits [batch, 1], end_points: `conv1` .. `conv<log2 size>`, `logits`).

  Raises:
    ValueError: inputs not 4-D, of unknown, unequal or non-power-of-2 height
      and width.
  """
  _check_image(inputs)
  num_layers = inputs.get_shape().as_list()[1].bit_length() - 1
  end_points = {}
  with tf.variable_scope(scope, values=[inputs], reuse=reuse), \
      _batch_norm_scope(is_training, fused_batch_norm), \
      slim.arg_scope([slim.conv2d], kernel_size=4, stride=2,
                     activation_fn=tf.nn.leaky_relu):
    net = inputs
    for layer in range(1, num_layers + 1):
      name = 'conv%d' % layer
      # The paper: no batch norm on the discriminator's input layer.
      net = slim.conv2d(net, depth * 2 ** (layer - 1),
                        normalizer_fn=slim.batch_norm if layer > 1 else None,
                        scope=name)
      end_points[name] = net
    logits = slim.conv2d(net, 1, kernel_size=1, stride=1, padding='VALID',
                         normalizer_fn=None, activation_fn=None)
    logits = tf.reshape(logits, [-1, 1])
    end_points['logits'] = logits
  return logits, end_points


def _check_generator_args(inputs, final_size):
  inputs.get_shape().assert_has_rank(2)  # ValueError naming the rank.
  if not _is_power_of_2(final_size):
    raise UserError('`final_size` (%d) must be a power of 2.' % final_size)
  if final_size < 8:
    raise UserError('`final_size` (%d) must be greater than 8 or equal to it.'
                    % final_size)


def generator(inputs, depth=64, final_size=32, num_outputs=3,
              is_training=True, reuse=None, scope='Generator',
              fused_batch_norm=False):
  """DCGAN generator: a code vector up to a final_size square image.

  Args:
    inputs: float Tensor [batch, N] (the noise or code).
    depth: channels of the last transposed conv; each earlier layer has
      twice those of the next.
    final_size: output height and width, a power of 2, at least 8.
    num_outputs: output channels (3 for RGB images).
    is_training: batch-norm mode.
    reuse: whether to reuse the variables of `scope`.
    scope: variable scope.
    fused_batch_norm: use the fused batch-norm kernel.

  Returns:
    (logits [batch, final_size, final_size, num_outputs] (no tanh),
    end_points: `deconv1` .. `deconv<log2(final_size) - 1>`, `logits`).

  Raises:
    ValueError: inputs not 2-D, or a bad final_size.
  """
  _check_generator_args(inputs, final_size)
  num_layers = final_size.bit_length() - 2
  end_points = {}
  with tf.variable_scope(scope, values=[inputs], reuse=reuse), \
      _batch_norm_scope(is_training, fused_batch_norm), \
      slim.arg_scope([slim.conv2d_transpose], normalizer_fn=slim.batch_norm,
                     kernel_size=4, stride=2):
    # The code as a 1x1 map; a VALID 4x4 transposed conv makes it 4x4.
    net = tf.expand_dims(tf.expand_dims(inputs, 1), 1)
    net = slim.conv2d_transpose(net, depth * 2 ** (num_layers - 1), stride=1,
                                padding='VALID', scope='deconv1')
    end_points['deconv1'] = net
    for layer in range(2, num_layers + 1):
      name = 'deconv%d' % layer
      last = layer == num_layers
      # The last layer: no batch norm (the paper) and no activation.
      net = slim.conv2d_transpose(
          net, depth * 2 ** (num_layers - layer), scope=name,
          **({'normalizer_fn': None, 'activation_fn': None} if last else {}))
      end_points[name] = net
    logits = slim.conv2d(net, num_outputs, kernel_size=1, stride=1,
                         padding='VALID', normalizer_fn=None,
                         activation_fn=None, scope='logits')
    end_points['logits'] = logits
  return logits, end_points
