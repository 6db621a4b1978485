"""PNASNet-5 for ImageNet (mobile and large), TF-Slim model zoo.

research/slim's nets/nasnet/pnasnet.py: Liu et al., "Progressive Neural
Architecture Search", https://arxiv.org/abs/1712.00559.

Unlike NASNet there is a single cell type: the cells that start a new stage
are the same cell run with stride 2 (and twice the filters), and the stem
uses it too. The stem, auxiliary head and classifier are NASNet's
(nasnet_utils.py). Variables are at the top level (`conv0`,
`cell_stem_0`, `cell_0`, ..., `aux_7`, `final_layer`), as in the published
checkpoints.

Published configurations (input pixels, cells, filters, output features):
  mobile  224x224  9 cells   54 filters  1080
  large   331x331  12 cells  216 filters 4320
"""

import tf_slim as slim

from slimvision.nets.nasnet import nasnet
from slimvision.nets.nasnet import nasnet_utils

NasNetConfig = nasnet_utils.NasNetConfig
arg_scope = slim.arg_scope


def pnasnet_large_arg_scope(weight_decay=4e-5, batch_norm_decay=0.9997,
                            batch_norm_epsilon=1e-3):
  """arg_scope for PNASNet large: NASNet large's (L2, fan-out init, fused
  BN), with research/slim's PNASNet weight decay default (4e-5)."""
  return nasnet.nasnet_large_arg_scope(weight_decay, batch_norm_decay,
                                       batch_norm_epsilon)


def pnasnet_mobile_arg_scope(weight_decay=4e-5, batch_norm_decay=0.9997,
                             batch_norm_epsilon=1e-3):
  """arg_scope for PNASNet mobile: NASNet mobile's."""
  return nasnet.nasnet_mobile_arg_scope(weight_decay, batch_norm_decay,
                                        batch_norm_epsilon)


def large_imagenet_config():
  """Hyper-parameters of PNASNet-5 large (331 pixels)."""
  return nasnet_utils.published_config(
      stem_multiplier=3.0, num_cells=12, num_conv_filters=216,
      drop_path_keep_prob=0.6, skip_reduction_layer_input=1)


def mobile_imagenet_config():
  """Hyper-parameters of PNASNet-5 mobile (224 pixels)."""
  return nasnet_utils.published_config(
      stem_multiplier=1.0, num_cells=9, num_conv_filters=54,
      drop_path_keep_prob=1.0, skip_reduction_layer_input=1)


class PNasNetNormalCell(nasnet_utils.PublishedCell):
  """The PNASNet-5 cell (output 5 x filters channels; stride 1 or 2)."""

  OPERATIONS = ('separable_5x5_2', 'max_pool_3x3',
                'separable_7x7_2', 'max_pool_3x3',
                'separable_5x5_2', 'separable_3x3_2',
                'separable_3x3_2', 'max_pool_3x3',
                'separable_3x3_2', 'none')
  USED_HIDDENSTATES = (1, 1, 0, 0, 0, 0, 0)
  HIDDENSTATE_INDICES = (1, 1, 0, 0, 0, 0, 4, 0, 1, 0)


def _endpoint_names(config):
  return (['Stem'] + ['Cell_%d' % i for i in range(config.num_cells)] +
          ['global_pool', 'Logits', 'Predictions'])


def _build_pnasnet_base(images, normal_cell, num_classes, hparams, is_training,
                        final_endpoint=None, current_step=None):
  """Stem, cells, auxiliary head and classifier; see build_pnasnet_large."""
  ends = nasnet_utils.EndPoints(final_endpoint, _endpoint_names(hparams))
  reduction_indices = nasnet_utils.calc_reduction_layers(
      hparams.num_cells, hparams.num_reduction_layers)
  net, cell_outputs = nasnet_utils.imagenet_stem(
      images, hparams, normal_cell, current_step=current_step)
  if ends.add('Stem', net):
    return net, ends.end_points

  aux_head_cells = ([reduction_indices[1] - 1]
                    if len(reduction_indices) >= 2 else [])
  build_aux = bool(hparams.use_aux_head and num_classes and is_training)
  activation_fn = nasnet_utils.activation_for(hparams)

  filter_scaling = 1.0
  true_cell_num = 2  # The two stem cells come first.
  prev_layer = None
  for cell_num in range(hparams.num_cells):
    is_reduction = cell_num in reduction_indices
    if is_reduction:
      filter_scaling *= hparams.filter_scaling_rate
    if hparams.skip_reduction_layer_input or not is_reduction:
      prev_layer = cell_outputs[-2]
    net = normal_cell(net, scope='cell_%d' % cell_num,
                      filter_scaling=filter_scaling,
                      stride=2 if is_reduction else 1, prev_layer=prev_layer,
                      cell_num=true_cell_num, current_step=current_step)
    if ends.add('Cell_%d' % cell_num, net):
      return net, ends.end_points
    true_cell_num += 1
    cell_outputs.append(net)
    if build_aux and cell_num in aux_head_cells:
      nasnet_utils.aux_head(activation_fn(net), ends.end_points, num_classes,
                            hparams, scope='aux_%d' % cell_num)

  return nasnet_utils.classifier_head(net, ends, num_classes, hparams,
                                      is_training)


def _build(images, num_classes, is_training, final_endpoint, config,
           current_step):
  config = nasnet_utils.training_config(config, is_training)
  images = nasnet_utils.prepare_images(images, config)
  # Every cell is counted, plus the two stem cells.
  cell = PNasNetNormalCell(
      config.num_conv_filters, config.drop_path_keep_prob,
      total_num_cells=config.num_cells + 2,
      total_training_steps=config.total_training_steps,
      use_bounded_activation=config.use_bounded_activation,
      data_format=config.data_format)
  with nasnet_utils.network_arg_scope(is_training, config.data_format):
    return _build_pnasnet_base(images, cell, num_classes, config, is_training,
                               final_endpoint=final_endpoint,
                               current_step=current_step)


def build_pnasnet_large(images, num_classes, is_training=True,
                        final_endpoint=None, config=None, current_step=None):
  """Builds PNASNet-5 large for ImageNet.

  Args:
    images: float Tensor [batch, 331, 331, 3] (NHWC, whatever the config's
      data_format; it is transposed for NCHW).
    num_classes: logits width (1001 for the published checkpoint); 0 or None
      returns the pooled features [batch, 4320] (and builds no aux head).
    is_training: training mode for batch norm, dropout and drop path (off
      otherwise), and whether the auxiliary head is built.
    final_endpoint: end point name to stop at ('Stem', 'Cell_0'...,
      'global_pool', 'Logits', 'Predictions'); its tensor is returned.
    config: NasNetConfig; default large_imagenet_config().
    current_step: scalar Tensor driving the drop path schedule; default the
      global step (created if the graph has none).

  Returns:
    (logits [batch, num_classes], end_points dict name -> Tensor). With
    training and use_aux_head, end_points['AuxLogits'] [batch, num_classes].
  """
  return _build(images, num_classes, is_training, final_endpoint,
                large_imagenet_config() if config is None else config,
                current_step)


build_pnasnet_large.default_image_size = 331


def build_pnasnet_mobile(images, num_classes, is_training=True,
                         final_endpoint=None, config=None, current_step=None):
  """Builds PNASNet-5 mobile for ImageNet.

  Args:
    images: float Tensor [batch, 224, 224, 3].
    num_classes: logits width; 0 or None returns the pooled features
      [batch, 1080].
    is_training, final_endpoint, current_step: as in build_pnasnet_large.
    config: NasNetConfig; default mobile_imagenet_config().

  Returns:
    (logits [batch, num_classes], end_points dict name -> Tensor).
  """
  return _build(images, num_classes, is_training, final_endpoint,
                mobile_imagenet_config() if config is None else config,
                current_step)


build_pnasnet_mobile.default_image_size = 224
