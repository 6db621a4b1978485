"""Maps a network name to a function `images -> (logits, end_points)`.

Each entry names the module in `nets/` and, within it, the network function
and its arg_scope function. Modules are imported on first use, so asking for
`lenet` does not build or import the NASNet code.
"""

import functools
import importlib
import inspect

import tf_slim as slim

from slimvision.core.errors import UserError

# name: (module in nets/, network function, arg_scope function)
_NETWORKS = {
    'alexnet_v2': ('alexnet', 'alexnet_v2', 'alexnet_v2_arg_scope'),
    'overfeat': ('overfeat', 'overfeat', 'overfeat_arg_scope'),
    'vgg_a': ('vgg', 'vgg_a', 'vgg_arg_scope'),
    'vgg_16': ('vgg', 'vgg_16', 'vgg_arg_scope'),
    'vgg_19': ('vgg', 'vgg_19', 'vgg_arg_scope'),
    'cifarnet': ('cifarnet', 'cifarnet', 'cifarnet_arg_scope'),
    'lenet': ('lenet', 'lenet', 'lenet_arg_scope'),
    'inception_v1': ('inception_v1', 'inception_v1', 'inception_v1_arg_scope'),
    'inception_v2': ('inception_v2', 'inception_v2', 'inception_v2_arg_scope'),
    'inception_v3': ('inception_v3', 'inception_v3', 'inception_v3_arg_scope'),
    'inception_v4': ('inception_v4', 'inception_v4', 'inception_v4_arg_scope'),
    'inception_resnet_v2': ('inception_resnet_v2', 'inception_resnet_v2',
                            'inception_resnet_v2_arg_scope'),
    'resnet_v1_50': ('resnet_v1', 'resnet_v1_50', 'resnet_arg_scope'),
    'resnet_v1_101': ('resnet_v1', 'resnet_v1_101', 'resnet_arg_scope'),
    'resnet_v1_152': ('resnet_v1', 'resnet_v1_152', 'resnet_arg_scope'),
    'resnet_v1_200': ('resnet_v1', 'resnet_v1_200', 'resnet_arg_scope'),
    'resnet_v2_50': ('resnet_v2', 'resnet_v2_50', 'resnet_arg_scope'),
    'resnet_v2_101': ('resnet_v2', 'resnet_v2_101', 'resnet_arg_scope'),
    'resnet_v2_152': ('resnet_v2', 'resnet_v2_152', 'resnet_arg_scope'),
    'resnet_v2_200': ('resnet_v2', 'resnet_v2_200', 'resnet_arg_scope'),
    'mobilenet_v1': ('mobilenet_v1', 'mobilenet_v1', 'mobilenet_v1_arg_scope'),
    'mobilenet_v1_075': ('mobilenet_v1', 'mobilenet_v1_075',
                         'mobilenet_v1_arg_scope'),
    'mobilenet_v1_050': ('mobilenet_v1', 'mobilenet_v1_050',
                         'mobilenet_v1_arg_scope'),
    'mobilenet_v1_025': ('mobilenet_v1', 'mobilenet_v1_025',
                         'mobilenet_v1_arg_scope'),
    'mobilenet_v2': ('mobilenet_v2', 'mobilenet_v2', 'training_scope'),
    'mobilenet_v2_140': ('mobilenet_v2', 'mobilenet_v2_140', 'training_scope'),
    'mobilenet_v2_035': ('mobilenet_v2', 'mobilenet_v2_035', 'training_scope'),
    'mobilenet_v3_small': ('mobilenet_v3', 'small', 'training_scope'),
    'mobilenet_v3_large': ('mobilenet_v3', 'large', 'training_scope'),
    'mobilenet_v3_small_minimalistic': ('mobilenet_v3', 'small_minimalistic',
                                        'training_scope'),
    'mobilenet_v3_large_minimalistic': ('mobilenet_v3', 'large_minimalistic',
                                        'training_scope'),
    'mobilenet_edgetpu': ('mobilenet_v3', 'edge_tpu', 'training_scope'),
    'mobilenet_edgetpu_075': ('mobilenet_v3', 'edge_tpu_075',
                              'training_scope'),
    'nasnet_cifar': ('nasnet', 'build_nasnet_cifar', 'nasnet_cifar_arg_scope'),
    'nasnet_mobile': ('nasnet', 'build_nasnet_mobile',
                      'nasnet_mobile_arg_scope'),
    'nasnet_large': ('nasnet', 'build_nasnet_large', 'nasnet_large_arg_scope'),
    'pnasnet_mobile': ('pnasnet', 'build_pnasnet_mobile',
                       'pnasnet_mobile_arg_scope'),
    'pnasnet_large': ('pnasnet', 'build_pnasnet_large',
                      'pnasnet_large_arg_scope'),
    'i3d': ('i3d', 'i3d', 'i3d_arg_scope'),
    's3dg': ('s3dg', 's3dg', 's3dg_arg_scope'),
}

VIDEO_MODELS = ('i3d', 's3dg')


def network_names():
  """All valid network names, sorted."""
  return sorted(_NETWORKS)


def _lookup(name):
  if name not in _NETWORKS:
    raise UserError('Unknown model name %r; valid names: %s' %
                    (name, ', '.join(network_names())))
  module_name, fn_name, scope_name = _NETWORKS[name]
  module = importlib.import_module('slimvision.nets.' + module_name)
  return getattr(module, fn_name), getattr(module, scope_name)


# What the arg_scope functions call their batch-norm moving-average decay.
_BN_DECAY_ARGS = ('batch_norm_decay', 'bn_decay')


def batch_norm_decay_arg(name):
  """The keyword the arg_scope of network `name` takes for the batch-norm
  moving-average decay, or None when it takes none (no batch norm, or a
  fixed decay as in TF-Slim's inception_v1 and inception_v2)."""
  _, arg_scope_fn = _lookup(name)
  params = inspect.signature(arg_scope_fn).parameters
  return next((a for a in _BN_DECAY_ARGS if a in params), None)


def get_network_fn(name, num_classes, weight_decay=0.0, is_training=False,
                   batch_norm_decay=None):
  """Returns a network function for `name` with its arg_scope applied.

  Args:
    name: one of `network_names()`.
    num_classes: number of output classes (logits width). 0 or None returns
      the pre-logits features for the networks that support it.
    weight_decay: L2 regularisation of the weights, added to
      tf.GraphKeys.REGULARIZATION_LOSSES.
    is_training: whether batch norm and dropout run in training mode.
    batch_norm_decay: decay of the batch-norm moving mean and variance
      (None: the network's own default, e.g. 0.9997 for MobileNet v1).

  Returns:
    network_fn(images, **kwargs) -> (logits, end_points), where images is a
    float Tensor [batch, height, width, channels] ([batch, frames, height,
    width, channels] for the video models) and logits is [batch, num_classes].
    It has an attribute `default_image_size` (pixels).

  Raises:
    UserError (a ValueError): if `name` is not a known network, or
      batch_norm_decay is given for a network that takes none.
  """
  func, arg_scope_fn = _lookup(name)
  scope_args = {'weight_decay': weight_decay}
  if batch_norm_decay is not None:
    decay_arg = batch_norm_decay_arg(name)
    if decay_arg is None:
      raise UserError('--batch_norm_decay: %s takes no batch-norm decay (it '
                      'has no batch norm, or a fixed one)' % name)
    scope_args[decay_arg] = batch_norm_decay

  @functools.wraps(func)
  def network_fn(images, **kwargs):
    with slim.arg_scope(arg_scope_fn(**scope_args)):
      return func(images, num_classes=num_classes, is_training=is_training,
                  **kwargs)

  network_fn.default_image_size = getattr(func, 'default_image_size', 224)
  return network_fn
