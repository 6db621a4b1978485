"""NASNet-A for CIFAR-10 and ImageNet (mobile and large), TF-Slim model zoo.

research/slim's nets/nasnet/nasnet.py: Zoph et al., "Learning Transferable
Architectures for Scalable Image Recognition", https://arxiv.org/abs/1707.07012.

A stem, then `num_cells` normal cells split into three stages by two
reduction cells (stride 2, filters doubled), an auxiliary head on the last
cell before the second reduction (training only), and a global-pool
classifier. Variables live at the top level (no network scope): `conv0`,
`cell_stem_0`, `cell_0`, `reduction_cell_0`, `aux_11`, `final_layer`, ...,
exactly as in the published checkpoints. The cells are in nasnet_utils.py.

Published configurations (input pixels, cells, filters, output features):
  cifar   32x32   18 cells  32 filters  768
  mobile  224x224 12 cells  44 filters  1056  (NASNet-A 4 @ 1056)
  large   331x331 18 cells  168 filters 4032  (NASNet-A 6 @ 4032)
"""

import tf_slim as slim

from slimvision.nets.nasnet import nasnet_utils

NasNetConfig = nasnet_utils.NasNetConfig
arg_scope = slim.arg_scope


def cifar_config():
  """Hyper-parameters of NASNet-A 6 @ 768 for CIFAR-10."""
  return nasnet_utils.published_config(
      stem_multiplier=3.0, num_cells=18, num_conv_filters=32,
      drop_path_keep_prob=0.6, dense_dropout_keep_prob=1.0,
      skip_reduction_layer_input=0,
      # 600 epochs at batch size 32: the drop path ramp-up length.
      total_training_steps=937500)


def large_imagenet_config():
  """Hyper-parameters of NASNet-A 6 @ 4032 for ImageNet (331 pixels)."""
  return nasnet_utils.published_config(
      stem_multiplier=3.0, num_cells=18, num_conv_filters=168,
      drop_path_keep_prob=0.7, skip_reduction_layer_input=1)


def mobile_imagenet_config():
  """Hyper-parameters of NASNet-A 4 @ 1056 for ImageNet (224 pixels)."""
  return nasnet_utils.published_config(
      stem_multiplier=1.0, num_cells=12, num_conv_filters=44,
      drop_path_keep_prob=1.0, skip_reduction_layer_input=0)


def _nasnet_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon):
  """L2 on all weights, fan-out variance scaling init, fused batch norm."""
  with slim.arg_scope(
      [slim.fully_connected, slim.conv2d, slim.separable_conv2d],
      weights_regularizer=slim.l2_regularizer(weight_decay),
      weights_initializer=slim.variance_scaling_initializer(mode='FAN_OUT')):
    with slim.arg_scope([slim.fully_connected], activation_fn=None):
      with slim.arg_scope([slim.conv2d, slim.separable_conv2d],
                          activation_fn=None, biases_initializer=None):
        with slim.arg_scope([slim.batch_norm], decay=batch_norm_decay,
                            epsilon=batch_norm_epsilon, scale=True,
                            fused=True) as scope:
          return scope


def nasnet_cifar_arg_scope(weight_decay=5e-4, batch_norm_decay=0.9,
                           batch_norm_epsilon=1e-5):
  """arg_scope for NASNet CIFAR (weight decay on weights, BN momentum)."""
  return _nasnet_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon)


def nasnet_mobile_arg_scope(weight_decay=4e-5, batch_norm_decay=0.9997,
                            batch_norm_epsilon=1e-3):
  """arg_scope for NASNet mobile (ImageNet)."""
  return _nasnet_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon)


def nasnet_large_arg_scope(weight_decay=5e-5, batch_norm_decay=0.9997,
                           batch_norm_epsilon=1e-3):
  """arg_scope for NASNet large (ImageNet)."""
  return _nasnet_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon)


def _cifar_stem(inputs, hparams):
  """3x3 conv + BN to int(num_conv_filters * stem_multiplier) channels."""
  num_stem_filters = int(hparams.num_conv_filters * hparams.stem_multiplier)
  net = slim.conv2d(inputs, num_stem_filters, [3, 3], activation_fn=None,
                    normalizer_fn=None, biases_initializer=None,
                    scope='l1_stem_3x3')
  net = slim.batch_norm(net, scale=True, scope='l1_stem_bn')
  return net, [None, net]


def _update_hparams(hparams, is_training):
  """research/slim's: no drop path outside training (in place)."""
  if not is_training:
    hparams.set_hparam('drop_path_keep_prob', 1.0)


# research/slim's names of the stem and the auxiliary head, which code
# that builds its own NASNet variants calls.
_imagenet_stem = nasnet_utils.imagenet_stem
_build_aux_head = nasnet_utils.aux_head


def _endpoint_names(config):
  names = ['Stem']
  for index in range(config.num_reduction_layers):
    names.append('Reduction_Cell_%d' % index)
  names += ['Cell_%d' % i for i in range(config.num_cells)]
  return names + ['global_pool', 'Logits', 'Predictions']


def _build_nasnet_base(images, normal_cell, reduction_cell, num_classes,
                       hparams, is_training, stem_type, final_endpoint=None,
                       current_step=None):
  """Stem, cells, auxiliary head and classifier; see build_nasnet_cifar."""
  ends = nasnet_utils.EndPoints(final_endpoint, _endpoint_names(hparams))
  reduction_indices = nasnet_utils.calc_reduction_layers(
      hparams.num_cells, hparams.num_reduction_layers)
  if stem_type == 'imagenet':
    net, cell_outputs = nasnet_utils.imagenet_stem(
        images, hparams, reduction_cell, current_step=current_step)
  else:
    net, cell_outputs = _cifar_stem(images, hparams)
  if ends.add('Stem', net):
    return net, ends.end_points

  # The auxiliary head sits on the last cell before the second reduction.
  aux_head_cells = ([reduction_indices[1] - 1]
                    if len(reduction_indices) >= 2 else [])
  build_aux = bool(hparams.use_aux_head and num_classes and is_training)
  activation_fn = nasnet_utils.activation_for(hparams)

  filter_scaling = 1.0
  # The drop path schedule counts the stem cells of the ImageNet stem.
  true_cell_num = 2 if stem_type == 'imagenet' else 0
  for cell_num in range(hparams.num_cells):
    if hparams.skip_reduction_layer_input:
      prev_layer = cell_outputs[-2]
    if cell_num in reduction_indices:
      filter_scaling *= hparams.filter_scaling_rate
      index = reduction_indices.index(cell_num)
      net = reduction_cell(net, scope='reduction_cell_%d' % index,
                           filter_scaling=filter_scaling, stride=2,
                           prev_layer=cell_outputs[-2],
                           cell_num=true_cell_num, current_step=current_step)
      if ends.add('Reduction_Cell_%d' % index, net):
        return net, ends.end_points
      true_cell_num += 1
      cell_outputs.append(net)
    if not hparams.skip_reduction_layer_input:
      prev_layer = cell_outputs[-2]
    net = normal_cell(net, scope='cell_%d' % cell_num,
                      filter_scaling=filter_scaling, stride=1,
                      prev_layer=prev_layer, cell_num=true_cell_num,
                      current_step=current_step)
    if ends.add('Cell_%d' % cell_num, net):
      return net, ends.end_points
    true_cell_num += 1
    if build_aux and cell_num in aux_head_cells:
      nasnet_utils.aux_head(activation_fn(net), ends.end_points, num_classes,
                            hparams, scope='aux_%d' % cell_num)
    cell_outputs.append(net)

  return nasnet_utils.classifier_head(net, ends, num_classes, hparams,
                                      is_training)


def _build(images, num_classes, is_training, final_endpoint, config,
           current_step, stem_type):
  """Shared body of the build_nasnet_* functions (config already chosen)."""
  config = nasnet_utils.training_config(config, is_training)
  images = nasnet_utils.prepare_images(images, config)
  # The reduction cells are counted too, and the ImageNet stem's two cells.
  total_num_cells = config.num_cells + 2
  if stem_type == 'imagenet':
    total_num_cells += 2
  cell_args = dict(
      num_conv_filters=config.num_conv_filters,
      drop_path_keep_prob=config.drop_path_keep_prob,
      total_num_cells=total_num_cells,
      total_training_steps=config.total_training_steps,
      use_bounded_activation=config.use_bounded_activation,
      data_format=config.data_format)
  normal_cell = nasnet_utils.NasNetANormalCell(**cell_args)
  reduction_cell = nasnet_utils.NasNetAReductionCell(**cell_args)
  with nasnet_utils.network_arg_scope(is_training, config.data_format):
    return _build_nasnet_base(
        images, normal_cell, reduction_cell, num_classes, config,
        is_training, stem_type, final_endpoint=final_endpoint,
        current_step=current_step)


def build_nasnet_cifar(images, num_classes, is_training=True, config=None,
                       current_step=None, final_endpoint=None):
  """Builds NASNet-A 6 @ 768 for CIFAR-10.

  Args:
    images: float Tensor [batch, 32, 32, 3] (NHWC, whatever the config's
      data_format; it is transposed for NCHW).
    num_classes: logits width; 0 or None returns the pooled features
      [batch, 768] (and builds no auxiliary head).
    is_training: training mode for batch norm, dropout and drop path (off
      otherwise), and whether the auxiliary head is built.
    config: NasNetConfig; default cifar_config().
    current_step: scalar Tensor driving the drop path schedule; default the
      global step (created if the graph has none).
    final_endpoint: end point name to stop at ('Stem', 'Cell_3',
      'Reduction_Cell_0', 'global_pool', ...); its tensor is returned. Last,
      so research/slim's positional (images, num_classes, is_training,
      config, current_step) calls keep working.

  Returns:
    (logits [batch, num_classes], end_points dict name -> Tensor). With
    training and use_aux_head, end_points['AuxLogits'] [batch, num_classes].
  """
  return _build(images, num_classes, is_training, final_endpoint,
                cifar_config() if config is None else config, current_step,
                stem_type='cifar')


build_nasnet_cifar.default_image_size = 32


def build_nasnet_mobile(images, num_classes, is_training=True,
                        final_endpoint=None, config=None, current_step=None):
  """Builds NASNet-A 4 @ 1056 for ImageNet.

  Args:
    images: float Tensor [batch, 224, 224, 3].
    num_classes: logits width (1001 for the published checkpoint); 0 or None
      returns the pooled features [batch, 1056].
    is_training, final_endpoint, current_step: as in build_nasnet_cifar.
    config: NasNetConfig; default mobile_imagenet_config().

  Returns:
    (logits [batch, num_classes], end_points dict name -> Tensor).
  """
  return _build(images, num_classes, is_training, final_endpoint,
                mobile_imagenet_config() if config is None else config,
                current_step, stem_type='imagenet')


build_nasnet_mobile.default_image_size = 224


def build_nasnet_large(images, num_classes, is_training=True,
                       final_endpoint=None, config=None, current_step=None):
  """Builds NASNet-A 6 @ 4032 for ImageNet: as build_nasnet_mobile, on
  images [batch, 331, 331, 3], with 4032 pooled features and config
  large_imagenet_config() by default."""
  return _build(images, num_classes, is_training, final_endpoint,
                large_imagenet_config() if config is None else config,
                current_step, stem_type='imagenet')


build_nasnet_large.default_image_size = 331
