"""The pix2pix U-Net generator and PatchGAN discriminator (research/slim's
nets/pix2pix.py).

Isola et al., "Image-to-Image Translation with Conditional Adversarial
Networks", https://arxiv.org/abs/1611.07004 (section 3.2 and appendix 6.1).

`pix2pix_generator`: one `Block` per encoder layer (a 4x4 stride-2 conv,
leaky ReLU; end points `encoder0` ...), mirrored by a decoder layer (ReLU,
2x upsampling, dropout at train and test time where `decoder_keep_prob` > 0;
end points `decoder0` ...) that also takes the encoder layer of its size
(the U-Net skips), then a 4x4 conv to num_outputs (`logits`, and tanh of it,
`predictions`). Variables under `encoder/`, `decoder/` and `output/` of the
caller's scope.

`pix2pix_discriminator`: the PatchGAN; reflection-padded 4x4 convs
`conv0` ... (stride 2, the last two stride 1) to a one-channel map of
per-patch logits (`logits`; `predictions` is their sigmoid).
"""

import collections
import functools

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.core.errors import UserError

_UPSAMPLE_METHODS = ('nn_upsample_conv', 'conv2d_transpose')


def pix2pix_arg_scope():
  """Instance-normalised (transposed) convolutions, N(0, 0.02) weights, as
  the authors' Torch code (epsilon 1e-5).

  Returns:
    An arg_scope dict for `slim.arg_scope`.
  """
  with slim.arg_scope(
      [slim.conv2d, slim.conv2d_transpose],
      normalizer_fn=slim.instance_norm,
      normalizer_params={'center': True, 'scale': True, 'epsilon': 0.00001},
      weights_initializer=tf.random_normal_initializer(0.0, 0.02)) as scope:
    return scope


def upsample(net, num_outputs, kernel_size, method='nn_upsample_conv'):
  """Upsamples net [batch, h, w, c] by kernel_size = [height factor, width
  factor] to num_outputs channels, without activation.

  Args:
    net: 4-D float Tensor.
    num_outputs: output channels.
    kernel_size: [height factor, width factor].
    method: 'nn_upsample_conv' (nearest-neighbour resize, then a 4x4 conv) or
      'conv2d_transpose' (a 4x4 transposed conv with that stride).

  Returns:
    The upsampled Tensor.

  Raises:
    ValueError: for an unknown method.
  """
  if method == 'nn_upsample_conv':
    shape = tf.shape(net)
    net = tf.image.resize(
        net, [shape[1] * kernel_size[0], shape[2] * kernel_size[1]],
        method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)
    return slim.conv2d(net, num_outputs, kernel_size=[4, 4],
                       activation_fn=None)
  if method == 'conv2d_transpose':
    return slim.conv2d_transpose(net, num_outputs, kernel_size=[4, 4],
                                 stride=kernel_size, activation_fn=None)
  raise UserError('Unknown method: [%s]; valid: %s' %
                  (method, ', '.join(_UPSAMPLE_METHODS)))


class Block(collections.namedtuple('Block',
                                   ['num_filters', 'decoder_keep_prob'])):
  """One encoder layer (num_filters channels) and its mirrored decoder layer,
  whose dropout keeps decoder_keep_prob of the activations (0: no dropout)."""


def _default_generator_blocks():
  """The paper's U-Net encoder C64-C128-C256-C512-C512-C512-C512, with
  dropout 0.5 in the three decoder layers nearest the output."""
  return [Block(64, 0.5), Block(128, 0.5), Block(256, 0.5), Block(512, 0),
          Block(512, 0), Block(512, 0), Block(512, 0)]


def _encoder(net, blocks, end_points):
  """The encoder's outputs, first to last."""
  activations = []
  with tf.variable_scope('encoder'), slim.arg_scope(
      [slim.conv2d], kernel_size=[4, 4], stride=2,
      activation_fn=tf.nn.leaky_relu):
    for index, block in enumerate(blocks):
      overrides = {}
      if index == 0:  # The paper: no normalisation on the first layer.
        overrides = {'normalizer_fn': None}
      elif index == len(blocks) - 1:  # The bottleneck: linear.
        overrides = {'normalizer_fn': None, 'activation_fn': None}
      net = slim.conv2d(net, block.num_filters, **overrides)
      activations.append(net)
      end_points['encoder%d' % index] = net
  return activations


def _decoder(activations, blocks, upsample_fn, end_points):
  """Decoder layers from the bottleneck up, each also fed the encoder
  layer of its size."""
  net = activations[-1]
  with tf.variable_scope('decoder'), \
      slim.arg_scope([slim.dropout], is_training=True):
    for index, block in enumerate(reversed(blocks)):
      if index:
        net = tf.concat([net, activations[-1 - index]], axis=3)
      net = upsample_fn(tf.nn.relu(net), block.num_filters, [2, 2])
      # Dropout is the generator's noise, so it stays on at test time.
      if block.decoder_keep_prob > 0:
        net = slim.dropout(net, keep_prob=block.decoder_keep_prob)
      end_points['decoder%d' % index] = net
  return net


def _output_shape(images, num_outputs):
  """images' shape with num_outputs channels: static where fully known."""
  if images.shape[:3].is_fully_defined():
    return images.shape.as_list()[:3] + [num_outputs]
  return tf.concat([tf.shape(images)[:3], [num_outputs]], axis=0)


def pix2pix_generator(net, num_outputs, blocks=None,
                      upsample_method='nn_upsample_conv', is_training=False):
  """The pix2pix U-Net generator.

  Args:
    net: float Tensor [batch, height, width, channels]; height and width
      divisible by 2 ** len(blocks).
    num_outputs: output channels per pixel.
    blocks: list of `Block`; None: `_default_generator_blocks()`.
    upsample_method: 'nn_upsample_conv' or 'conv2d_transpose' (see
      `upsample`).
    is_training: unused: the decoder's dropout is always on, as in the paper.

  Returns:
    (logits [batch, height, width, num_outputs], end_points).
  """
  del is_training
  blocks = blocks or _default_generator_blocks()
  if upsample_method not in _UPSAMPLE_METHODS:
    raise UserError('Unknown upsample_method: [%s]; valid: %s' %
                    (upsample_method, ', '.join(_UPSAMPLE_METHODS)))
  output_shape = _output_shape(net, num_outputs)
  end_points = {}
  activations = _encoder(net, blocks, end_points)
  net = _decoder(activations, blocks,
                 functools.partial(upsample, method=upsample_method),
                 end_points)
  with tf.variable_scope('output'):
    # normalizer_fn=None overrides pix2pix_arg_scope's instance norm.
    logits = slim.conv2d(net, num_outputs, [4, 4], activation_fn=None,
                         normalizer_fn=None)
    logits = tf.reshape(logits, output_shape)
    end_points['logits'] = logits
    end_points['predictions'] = tf.tanh(logits)
  return logits, end_points


def _check_padding(padding):
  if isinstance(padding, bool) or not isinstance(padding, int):
    raise TypeError('pix2pix_discriminator padding must be an int, got %r.'
                    % (padding,))
  if padding < 0:
    raise UserError('pix2pix_discriminator padding must be 0 or more, got '
                    '%d.' % padding)


def pix2pix_discriminator(net, num_filters, padding=2, pad_mode='REFLECT',
                          activation_fn=tf.nn.leaky_relu, is_training=False):
  """The PatchGAN discriminator: logits per image patch.

  Args:
    net: float Tensor [batch, height, width, channels].
    num_filters: channels of each layer; their number is the number of
      layers besides the one-channel logits layer.
    padding: pixels padded on every side before each 4x4 conv (0: none).
    pad_mode: tf.pad mode: 'REFLECT', 'SYMMETRIC' or 'CONSTANT'.
    activation_fn: activation of every layer but the logits.
    is_training: unused (instance norm has no training mode).

  Returns:
    (logits [batch, h', w', 1], end_points: `conv0` ..., `logits`,
    `predictions`).

  Raises:
    TypeError: a padding that is not an int.
    ValueError: a negative padding.
  """
  del is_training
  _check_padding(padding)

  def conv(net, depth, layer, **kwargs):
    name = 'conv%d' % layer
    if padding:
      with tf.variable_scope(name):
        net = tf.pad(net, [[0, 0], [padding, padding], [padding, padding],
                           [0, 0]], mode=pad_mode)
    return slim.conv2d(net, depth, scope=name, **kwargs)

  end_points = {}
  num_layers = len(num_filters)
  with slim.arg_scope([slim.conv2d], kernel_size=[4, 4], stride=2,
                      padding='VALID', activation_fn=activation_fn):
    for layer, depth in enumerate(num_filters):
      overrides = {}
      if layer == 0:  # The paper: no normalisation on the first layer.
        overrides['normalizer_fn'] = None
      if layer == num_layers - 1:
        overrides['stride'] = 1
      net = end_points['conv%d' % layer] = conv(net, depth, layer,
                                                **overrides)
    logits = conv(net, 1, num_layers, stride=1, activation_fn=None,
                  normalizer_fn=None)
  end_points['logits'] = logits
  end_points['predictions'] = tf.sigmoid(logits)
  return logits, end_points
