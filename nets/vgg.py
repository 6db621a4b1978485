"""VGG A (11 layers), 16 (D) and 19 (E) of the TF-Slim model zoo.

Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale
Image Recognition" (arXiv:1409.1556): five stages of 3x3 convolutions
(`conv<i>/conv<i>_<j>`), each followed by a 2x2 max pool (`pool<i>`), and
the fully connected layers as convolutions (`fc6` a 7x7 one), so the network
also runs fully convolutionally (fc_conv_padding='SAME' or
spatial_squeeze=False). Input [batch, 224, 224, 3]; scopes `vgg_a`,
`vgg_16`, `vgg_19`; the arguments are research/slim's.
"""

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import alexnet


def vgg_arg_scope(weight_decay=0.0005):
  """ReLU, L2 weight decay, zero biases, SAME convolutions."""
  with slim.arg_scope([slim.conv2d, slim.fully_connected],
                      activation_fn=tf.nn.relu,
                      weights_regularizer=slim.l2_regularizer(weight_decay),
                      biases_initializer=tf.zeros_initializer()):
    with slim.arg_scope([slim.conv2d], padding='SAME') as arg_sc:
      return arg_sc


# The docstring of each network, filled with its name and depth.
_DOC = """Builds %s (%d weight layers).

  Args:
    inputs: Tensor [batch, height, width, 3]; 224x224 gives 1x1 logits.
    num_classes, is_training, dropout_keep_prob, spatial_squeeze,
      global_pool: as in alexnet.alexnet_v2.
    reuse: whether to reuse the variables (scope must then be given).
    scope: variable scope.
    fc_conv_padding: padding of fc6: 'VALID' gives outputs of side
      side / 32 - 6, 'SAME' of side / 32 (dense prediction).

  Returns:
    (net, end_points): the logits, or the fc7 features [batch, h, w, 4096];
    end_points maps '<scope>/conv1/conv1_1' .. '<scope>/fc8' (and
    `global_pool`) to the layers' outputs.
  """


def _vgg_network(name, convs_per_stage):
  """The network function `name`: convs_per_stage[i] convolutions in stage
  i + 1 (depths 64, 128, 256, 512, 512), then alexnet.classifier_head."""

  def network(inputs,
              num_classes=1000,
              is_training=True,
              dropout_keep_prob=0.5,
              spatial_squeeze=True,
              reuse=None,
              scope=name,
              fc_conv_padding='VALID',
              global_pool=False):
    with tf.variable_scope(scope, name, [inputs], reuse=reuse) as sc:
      collection = sc.original_name_scope + '_end_points'
      with slim.arg_scope(
          [slim.conv2d, slim.fully_connected, slim.max_pool2d],
          outputs_collections=collection):
        net = inputs
        for stage, (convs, depth) in enumerate(
            zip(convs_per_stage, (64, 128, 256, 512, 512)), 1):
          net = slim.repeat(net, convs, slim.conv2d, depth, [3, 3],
                            scope='conv%d' % stage)
          net = slim.max_pool2d(net, [2, 2], scope='pool%d' % stage)
        return alexnet.classifier_head(
            net, 4096, [7, 7], collection, sc.name, num_classes, is_training,
            dropout_keep_prob, spatial_squeeze, global_pool,
            fc6_padding=fc_conv_padding)

  network.__name__ = network.__qualname__ = name
  network.__doc__ = _DOC % (name, sum(convs_per_stage) + 3)
  network.default_image_size = 224
  return network


vgg_a = _vgg_network('vgg_a', (1, 1, 2, 2, 2))
vgg_16 = _vgg_network('vgg_16', (2, 2, 3, 3, 3))
vgg_19 = _vgg_network('vgg_19', (2, 2, 4, 4, 4))

# The configurations' names in the paper.
vgg_d = vgg_16
vgg_e = vgg_19
