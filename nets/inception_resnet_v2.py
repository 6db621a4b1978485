"""Inception-ResNet-v2 of the TF-Slim model zoo (scope `InceptionResnetV2`).

Szegedy et al., "Inception-v4, Inception-ResNet and the Impact of Residual
Connections on Learning", https://arxiv.org/abs/1602.07261. Variable and
end-point names follow the published checkpoint
(inception_resnet_v2_2016_08_30). For a 299x299 input: a stem to 35x35x192,
`Mixed_5b` (35x35x320), 10 residual Block35 (`Repeat/block35_N`), reduction
`Mixed_6a` (17x17x1088), 20 Block17 (`Repeat_1/block17_N`, end point
`PreAuxLogits`), reduction `Mixed_7a` (8x8x2080), 9 Block8
(`Repeat_2/block8_N`) plus a last one without activation (`Block8`) and
`Conv2d_7b_1x1` (8x8x1536).
"""

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import inception_utils as iu


def _residual(net, mixed, scale, activation_fn):
  """net + scale * (1x1 linear projection of `mixed` to net's depth)."""
  up = slim.conv2d(mixed, net.get_shape()[3], [1, 1], normalizer_fn=None,
                   activation_fn=None, scope='Conv2d_1x1')
  scaled_up = up * scale
  if activation_fn == tf.nn.relu6:
    # Keeps the sum in the range relu6 was trained for (quantisation).
    scaled_up = tf.clip_by_value(scaled_up, -6.0, 6.0)
  net += scaled_up
  if activation_fn:
    net = activation_fn(net)
  return net


def block35(net, scale=1.0, activation_fn=tf.nn.relu, scope=None,
            reuse=None):
  """Inception-ResNet-A (35x35 grid): [b, 35, 35, 320] -> same shape."""
  with tf.variable_scope(scope, 'Block35', [net], reuse=reuse):
    with tf.variable_scope('Branch_0'):
      tower_0 = slim.conv2d(net, 32, [1, 1], scope='Conv2d_1x1')
    with tf.variable_scope('Branch_1'):
      tower_1 = slim.conv2d(net, 32, [1, 1], scope='Conv2d_0a_1x1')
      tower_1 = slim.conv2d(tower_1, 32, [3, 3], scope='Conv2d_0b_3x3')
    with tf.variable_scope('Branch_2'):
      tower_2 = slim.conv2d(net, 32, [1, 1], scope='Conv2d_0a_1x1')
      tower_2 = slim.conv2d(tower_2, 48, [3, 3], scope='Conv2d_0b_3x3')
      tower_2 = slim.conv2d(tower_2, 64, [3, 3], scope='Conv2d_0c_3x3')
    mixed = tf.concat(axis=3, values=[tower_0, tower_1, tower_2])
    return _residual(net, mixed, scale, activation_fn)


def block17(net, scale=1.0, activation_fn=tf.nn.relu, scope=None,
            reuse=None):
  """Inception-ResNet-B (17x17 grid): [b, 17, 17, 1088] -> same shape."""
  with tf.variable_scope(scope, 'Block17', [net], reuse=reuse):
    with tf.variable_scope('Branch_0'):
      tower_0 = slim.conv2d(net, 192, [1, 1], scope='Conv2d_1x1')
    with tf.variable_scope('Branch_1'):
      tower_1 = slim.conv2d(net, 128, [1, 1], scope='Conv2d_0a_1x1')
      tower_1 = slim.conv2d(tower_1, 160, [1, 7], scope='Conv2d_0b_1x7')
      tower_1 = slim.conv2d(tower_1, 192, [7, 1], scope='Conv2d_0c_7x1')
    mixed = tf.concat(axis=3, values=[tower_0, tower_1])
    return _residual(net, mixed, scale, activation_fn)


def block8(net, scale=1.0, activation_fn=tf.nn.relu, scope=None, reuse=None):
  """Inception-ResNet-C (8x8 grid): [b, 8, 8, 2080] -> same shape."""
  with tf.variable_scope(scope, 'Block8', [net], reuse=reuse):
    with tf.variable_scope('Branch_0'):
      tower_0 = slim.conv2d(net, 192, [1, 1], scope='Conv2d_1x1')
    with tf.variable_scope('Branch_1'):
      tower_1 = slim.conv2d(net, 192, [1, 1], scope='Conv2d_0a_1x1')
      tower_1 = slim.conv2d(tower_1, 224, [1, 3], scope='Conv2d_0b_1x3')
      tower_1 = slim.conv2d(tower_1, 256, [3, 1], scope='Conv2d_0c_3x1')
    mixed = tf.concat(axis=3, values=[tower_0, tower_1])
    return _residual(net, mixed, scale, activation_fn)


def _residual_blocks(block, repetitions, scale, activation_fn, rate=None):
  """A layer of `repetitions` residual blocks (their convs dilated by
  `rate` if given). They take slim.repeat's own scope (Repeat, Repeat_1,
  Repeat_2 in turn), as the checkpoint names them, not the end point's."""

  def residual_blocks(net, scope=None):
    del scope  # The end point's name; the blocks are Repeat*/<block>_N.
    with slim.arg_scope([slim.conv2d], **({'rate': rate} if rate else {})):
      return slim.repeat(net, repetitions, block, scale=scale,
                         activation_fn=activation_fn)
  return residual_blocks


def _then(first, layer):
  """`first` (a layer without an end point of its own), then `layer`."""
  return lambda net, scope: layer(first(net), scope=scope)


def _stem(padding):
  """299x299x3 -> 35x35x192."""
  return [
      ('Conv2d_1a_3x3', iu.conv(32, 3, stride=2, padding=padding)),
      ('Conv2d_2a_3x3', iu.conv(32, 3, padding=padding)),
      ('Conv2d_2b_3x3', iu.conv(64, 3)),
      ('MaxPool_3a_3x3', iu.layer(slim.max_pool2d, 3, stride=2,
                                  padding=padding)),
      ('Conv2d_3b_1x1', iu.conv(80, 1, padding=padding)),
      ('Conv2d_4a_3x3', iu.conv(192, 3, padding=padding)),
      ('MaxPool_5a_3x3', iu.layer(slim.max_pool2d, 3, stride=2,
                                  padding=padding)),
  ]


# 35x35x192 -> 35x35x320.
_MIXED_5B = iu.mixed([
    [iu.conv(96, 1, 'Conv2d_1x1')],
    [iu.conv(48, 1, 'Conv2d_0a_1x1'), iu.conv(64, 5, 'Conv2d_0b_5x5')],
    [iu.conv(64, 1, 'Conv2d_0a_1x1'), iu.conv(96, 3, 'Conv2d_0b_3x3'),
     iu.conv(96, 3, 'Conv2d_0c_3x3')],
    [iu.layer(slim.avg_pool2d, 3, 'AvgPool_0a_3x3'),
     iu.conv(64, 1, 'Conv2d_0b_1x1')]])


def _mixed_6a(stride, padding):
  """35x35x320 -> 17x17x1088 (35x35 with stride 1)."""
  reduce = dict(stride=stride, padding=padding)
  return iu.mixed([
      [iu.conv(384, 3, 'Conv2d_1a_3x3', **reduce)],
      [iu.conv(256, 1, 'Conv2d_0a_1x1'), iu.conv(256, 3, 'Conv2d_0b_3x3'),
       iu.conv(384, 3, 'Conv2d_1a_3x3', **reduce)],
      [iu.layer(slim.max_pool2d, 3, 'MaxPool_1a_3x3', **reduce)]])


def _mixed_7a(padding):
  """17x17x1088 -> 8x8x2080."""
  reduce = dict(stride=2, padding=padding)
  return iu.mixed([
      [iu.conv(256, 1, 'Conv2d_0a_1x1'),
       iu.conv(384, 3, 'Conv2d_1a_3x3', **reduce)],
      [iu.conv(256, 1, 'Conv2d_0a_1x1'),
       iu.conv(288, 3, 'Conv2d_1a_3x3', **reduce)],
      [iu.conv(256, 1, 'Conv2d_0a_1x1'), iu.conv(288, 3, 'Conv2d_0b_3x3'),
       iu.conv(320, 3, 'Conv2d_1a_3x3', **reduce)],
      [iu.layer(slim.max_pool2d, 3, 'MaxPool_1a_3x3', **reduce)]])


def _last_blocks(activation_fn):
  """9 Block8, one more without activation (`Block8`), and the 1x1 conv to
  8x8x1536."""
  blocks = _residual_blocks(block8, 9, 0.20, activation_fn)

  def last_blocks(net, scope):
    net = block8(blocks(net), activation_fn=None)
    return slim.conv2d(net, 1536, [1, 1], scope=scope)
  return last_blocks


def _layers(padding, atrous, activation_fn):
  """The base's (end point, layer) pairs in order; `atrous`: output stride
  8 (Mixed_6a keeps the grid, the Block17 convs dilate by 2)."""
  return _stem(padding) + [
      ('Mixed_5b', _MIXED_5B),
      ('Mixed_6a', _then(
          _residual_blocks(block35, 10, 0.17, activation_fn),
          _mixed_6a(1 if atrous else 2, padding))),
      ('PreAuxLogits', _residual_blocks(block17, 20, 0.10, activation_fn,
                                        rate=2 if atrous else 1)),
      ('Mixed_7a', _mixed_7a(padding)),
      ('Conv2d_7b_1x1', _last_blocks(activation_fn)),
  ]


def inception_resnet_v2_base(inputs, final_endpoint='Conv2d_7b_1x1',
                             output_stride=16, align_feature_maps=False,
                             scope=None, activation_fn=tf.nn.relu):
  """Inception-ResNet-v2 up to `final_endpoint`.

  Args:
    inputs: float Tensor [batch, height, width, 3].
    final_endpoint: the last end point to build: 'Conv2d_1a_3x3',
      'Conv2d_2a_3x3', 'Conv2d_2b_3x3', 'MaxPool_3a_3x3', 'Conv2d_3b_1x1',
      'Conv2d_4a_3x3', 'MaxPool_5a_3x3', 'Mixed_5b', 'Mixed_6a',
      'PreAuxLogits', 'Mixed_7a' or 'Conv2d_7b_1x1'.
    output_stride: 16 or 8 (input size / feature-map size at PreAuxLogits);
      8 replaces the stride of Mixed_6a by atrous (rate 2) Block17 convs and
      only allows final_endpoint up to 'PreAuxLogits'.
    align_feature_maps: 'SAME' padding in the stem and reductions, so that
      feature-map corners align with the input (for dense prediction); the
      published checkpoint uses False ('VALID').
    scope: variable scope (default 'InceptionResnetV2').
    activation_fn: activation of the residual blocks.

  Returns:
    (net, end_points): the output of `final_endpoint` and every end point
    built so far.

  Raises:
    ValueError: for an unknown `final_endpoint`, an `output_stride` other
      than 8 or 16, or output_stride 8 with an end point past PreAuxLogits
      (nothing is built then).
  """
  if output_stride not in (8, 16):
    raise ValueError('output_stride must be 8 or 16, got %r' % output_stride)
  atrous = output_stride == 8
  layers = _layers('SAME' if align_feature_maps else 'VALID', atrous,
                   activation_fn)
  names = [name for name, _ in layers]
  if (atrous and final_endpoint in names and
      names.index(final_endpoint) > names.index('PreAuxLogits')):
    raise ValueError('output_stride 8 is only supported up to the '
                     'PreAuxLogits end point.')
  with tf.variable_scope(scope, 'InceptionResnetV2', [inputs]):
    with slim.arg_scope([slim.conv2d, slim.max_pool2d, slim.avg_pool2d],
                        stride=1, padding='SAME'):
      return iu.build_layers(inputs, layers, final_endpoint)


def inception_resnet_v2(inputs, num_classes=1001, is_training=True,
                        dropout_keep_prob=0.8, reuse=None,
                        scope='InceptionResnetV2', create_aux_logits=True,
                        activation_fn=tf.nn.relu, align_feature_maps=False):
  """Inception-ResNet-v2 for classification.

  Args:
    inputs: float Tensor [batch, 299, 299, 3] (other sizes work; the final
      pool then covers the whole feature map).
    num_classes: logits width (1001 for the published checkpoint: class 0 is
      "background"); 0 or None returns the pooled features
      [batch, 1, 1, 1536] (end point `global_pool`) and creates no logits.
    is_training: whether batch norm and dropout run in training mode.
    dropout_keep_prob: keep probability of the dropout before the logits.
    reuse: whether to reuse the variables of `scope`.
    scope: variable scope.
    create_aux_logits: whether to build the auxiliary classifier on
      PreAuxLogits (`AuxLogits`, [batch, num_classes]).
    activation_fn: activation of the residual blocks.
    align_feature_maps: see `inception_resnet_v2_base`.

  Returns:
    (logits [batch, num_classes], end_points dict name -> Tensor).
  """
  with tf.variable_scope(scope, 'InceptionResnetV2', [inputs],
                         reuse=reuse) as scope:
    with slim.arg_scope([slim.batch_norm, slim.dropout],
                        is_training=is_training):
      net, end_points = inception_resnet_v2_base(
          inputs, scope=scope, activation_fn=activation_fn,
          align_feature_maps=align_feature_maps)

      if create_aux_logits and num_classes:
        with tf.variable_scope('AuxLogits'):
          # 17x17x1088 -> 5x5x1088 -> 5x5x128 -> 1x1x768.
          aux = slim.avg_pool2d(end_points['PreAuxLogits'], [5, 5], stride=3,
                                padding='VALID', scope='Conv2d_1a_3x3')
          aux = slim.conv2d(aux, 128, [1, 1], scope='Conv2d_1b_1x1')
          aux = slim.conv2d(aux, 768, aux.get_shape()[1:3], padding='VALID',
                            scope='Conv2d_2a_5x5')
          aux = slim.flatten(aux)
          aux = slim.fully_connected(aux, num_classes, activation_fn=None,
                                     scope='Logits')
          end_points['AuxLogits'] = aux

      with tf.variable_scope('Logits'):
        # 8x8x1536 -> 1x1x1536.
        kernel_size = net.get_shape()[1:3]
        if kernel_size.is_fully_defined():
          net = slim.avg_pool2d(net, kernel_size, padding='VALID',
                                scope='AvgPool_1a_8x8')
        else:
          net = tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')
        end_points['global_pool'] = net
        if not num_classes:
          return net, end_points
        net = slim.flatten(net)
        net = slim.dropout(net, dropout_keep_prob, scope='Dropout')
        end_points['PreLogitsFlatten'] = net
        logits = slim.fully_connected(net, num_classes, activation_fn=None,
                                      scope='Logits')
        end_points['Logits'] = logits
        end_points['Predictions'] = tf.nn.softmax(logits, name='Predictions')
  return logits, end_points


inception_resnet_v2.default_image_size = 299


def inception_resnet_v2_arg_scope(
    weight_decay=0.00004, batch_norm_decay=0.9997, batch_norm_epsilon=0.001,
    activation_fn=tf.nn.relu,
    batch_norm_updates_collections=tf.GraphKeys.UPDATE_OPS,
    batch_norm_scale=False):
  """Convs with batch norm and L2 on conv / fully connected weights+biases.

  Args:
    weight_decay: L2 coefficient on the weights and biases.
    batch_norm_decay: moving-average decay of the batch-norm statistics.
    batch_norm_epsilon: added to the variance before dividing.
    activation_fn: activation after each conv.
    batch_norm_updates_collections: where the moving-average updates go.
    batch_norm_scale: whether batch norm has a `gamma` (the published
      checkpoint has none).

  Returns:
    An arg_scope for `inception_resnet_v2`.
  """
  with slim.arg_scope([slim.conv2d, slim.fully_connected],
                      weights_regularizer=slim.l2_regularizer(weight_decay),
                      biases_regularizer=slim.l2_regularizer(weight_decay)):
    batch_norm_params = {
        'decay': batch_norm_decay,
        'epsilon': batch_norm_epsilon,
        'updates_collections': batch_norm_updates_collections,
        'fused': None,
        'scale': batch_norm_scale,
    }
    with slim.arg_scope([slim.conv2d], activation_fn=activation_fn,
                        normalizer_fn=slim.batch_norm,
                        normalizer_params=batch_norm_params) as scope:
      return scope
