"""The model registry: network name -> network, arg_scope and model facts.

Every model is one `ModelSpec` in one registry, which both this factory and
the preprocessing factory serve from. Built-in networks are `Lazy`
references, imported on first use, so asking for `lenet` does not import the
NASNet code.

Users add a model with `register_model`, or the way TF-Slim's tutorials
extend research/slim's maps (in either order):

  nets_factory.networks_map['my_net'] = my_net
  nets_factory.arg_scopes_map['my_net'] = my_net_arg_scope

A model added through the maps uses the inception preprocessing unless
`preprocessing_factory.preprocessing_fn_map['my_net']` says otherwise.
"""

import collections.abc
import contextlib
import dataclasses
import functools
import re
from typing import Any, Optional

import tf_slim as slim

from slimvision.core.errors import UserError
from slimvision.core.registry import Lazy
from slimvision.core.registry import Registry


def _resolve(value):
  return value.resolve() if isinstance(value, Lazy) else value


@dataclasses.dataclass(frozen=True)
class ModelSpec(object):
  """What the framework knows about one network.

  Attributes:
    network_fn: `fn(images, num_classes, is_training, **kwargs) -> (logits,
      end_points)`, or a `Lazy` reference to it. images is a float Tensor
      [batch, height, width, channels] ([batch, frames, height, width,
      channels] for video models); logits is [batch, num_classes].
    arg_scope_fn: `fn(weight_decay, [batch-norm decay keyword]) -> arg_scope`
      dict, or a `Lazy` reference to it.
    preprocessing: the preprocessing_factory name of its input function
      ('inception', 'vgg', 'cifarnet', 'lenet', or a user's entry).
    default_image_size: input side in pixels; None: the network function's
      `default_image_size` attribute, else 224.
    is_video: whether the network takes clips of frames (I3D, S3D-G).
    batch_norm_decay_arg: the keyword arg_scope_fn takes for the batch-norm
      moving-average decay ('batch_norm_decay', 'bn_decay'), or None when it
      takes none (no batch norm, as in cifarnet and lenet).
  """
  network_fn: Any
  arg_scope_fn: Any
  preprocessing: str = 'inception'
  default_image_size: Optional[int] = None
  is_video: bool = False
  batch_norm_decay_arg: Optional[str] = None

  def network(self):
    """The network function (imports its module on first use)."""
    return _resolve(self.network_fn)

  def arg_scope(self):
    """The arg_scope function (imports its module on first use)."""
    return _resolve(self.arg_scope_fn)

  def image_size(self):
    """Default input side in pixels (may import the network's module)."""
    if self.default_image_size is not None:
      return self.default_image_size
    return getattr(self.network(), 'default_image_size', 224)


_BN = 'batch_norm_decay'
_BN_V2 = 'bn_decay'  # MobileNet v2 / v3 spell it this way.


def _builtin(module, network, arg_scope, preprocessing, bn_arg=None,
             is_video=False):
  """A ModelSpec for `slimvision.nets.<module>`, imported on first use."""
  module = 'slimvision.nets.' + module
  return ModelSpec(Lazy(module, network), Lazy(module, arg_scope),
                   preprocessing, None, is_video, bn_arg)


# Preprocessing families are TF-Slim's; batch-norm keywords are what each
# arg_scope takes (model_registry_test checks them against the signatures).
_MODELS = Registry('model name', {
    'alexnet_v2': _builtin('alexnet', 'alexnet_v2', 'alexnet_v2_arg_scope',
                           'vgg'),
    'overfeat': _builtin('overfeat', 'overfeat', 'overfeat_arg_scope', 'vgg'),
    'vgg_a': _builtin('vgg', 'vgg_a', 'vgg_arg_scope', 'vgg'),
    'vgg_16': _builtin('vgg', 'vgg_16', 'vgg_arg_scope', 'vgg'),
    'vgg_19': _builtin('vgg', 'vgg_19', 'vgg_arg_scope', 'vgg'),
    'cifarnet': _builtin('cifarnet', 'cifarnet', 'cifarnet_arg_scope',
                         'cifarnet'),
    'lenet': _builtin('lenet', 'lenet', 'lenet_arg_scope', 'lenet'),
    'inception_v1': _builtin('inception_v1', 'inception_v1',
                             'inception_v1_arg_scope', 'inception', _BN),
    'inception_v2': _builtin('inception_v2', 'inception_v2',
                             'inception_v2_arg_scope', 'inception', _BN),
    'inception_v3': _builtin('inception_v3', 'inception_v3',
                             'inception_v3_arg_scope', 'inception', _BN),
    'inception_v4': _builtin('inception_v4', 'inception_v4',
                             'inception_v4_arg_scope', 'inception', _BN),
    'inception_resnet_v2': _builtin(
        'inception_resnet_v2', 'inception_resnet_v2',
        'inception_resnet_v2_arg_scope', 'inception', _BN),
    'resnet_v1_50': _builtin('resnet_v1', 'resnet_v1_50', 'resnet_arg_scope',
                             'vgg', _BN),
    'resnet_v1_101': _builtin('resnet_v1', 'resnet_v1_101',
                              'resnet_arg_scope', 'vgg', _BN),
    'resnet_v1_152': _builtin('resnet_v1', 'resnet_v1_152',
                              'resnet_arg_scope', 'vgg', _BN),
    'resnet_v1_200': _builtin('resnet_v1', 'resnet_v1_200',
                              'resnet_arg_scope', 'vgg', _BN),
    'resnet_v2_50': _builtin('resnet_v2', 'resnet_v2_50', 'resnet_arg_scope',
                             'vgg', _BN),
    'resnet_v2_101': _builtin('resnet_v2', 'resnet_v2_101',
                              'resnet_arg_scope', 'vgg', _BN),
    'resnet_v2_152': _builtin('resnet_v2', 'resnet_v2_152',
                              'resnet_arg_scope', 'vgg', _BN),
    'resnet_v2_200': _builtin('resnet_v2', 'resnet_v2_200',
                              'resnet_arg_scope', 'vgg', _BN),
    'mobilenet_v1': _builtin('mobilenet_v1', 'mobilenet_v1',
                             'mobilenet_v1_arg_scope', 'inception', _BN),
    'mobilenet_v1_075': _builtin('mobilenet_v1', 'mobilenet_v1_075',
                                 'mobilenet_v1_arg_scope', 'inception', _BN),
    'mobilenet_v1_050': _builtin('mobilenet_v1', 'mobilenet_v1_050',
                                 'mobilenet_v1_arg_scope', 'inception', _BN),
    'mobilenet_v1_025': _builtin('mobilenet_v1', 'mobilenet_v1_025',
                                 'mobilenet_v1_arg_scope', 'inception', _BN),
    'mobilenet_v2': _builtin('mobilenet.mobilenet_v2', 'mobilenet',
                             'training_scope', 'inception', _BN_V2),
    'mobilenet_v2_140': _builtin('mobilenet.mobilenet_v2', 'mobilenet_v2_140',
                                 'training_scope', 'inception', _BN_V2),
    'mobilenet_v2_035': _builtin('mobilenet.mobilenet_v2', 'mobilenet_v2_035',
                                 'training_scope', 'inception', _BN_V2),
    'mobilenet_v3_small': _builtin('mobilenet.mobilenet_v3', 'small',
                                   'training_scope', 'inception', _BN_V2),
    'mobilenet_v3_large': _builtin('mobilenet.mobilenet_v3', 'large',
                                   'training_scope', 'inception', _BN_V2),
    'mobilenet_v3_small_minimalistic': _builtin(
        'mobilenet.mobilenet_v3', 'small_minimalistic', 'training_scope',
        'inception', _BN_V2),
    'mobilenet_v3_large_minimalistic': _builtin(
        'mobilenet.mobilenet_v3', 'large_minimalistic', 'training_scope',
        'inception', _BN_V2),
    'mobilenet_edgetpu': _builtin('mobilenet.mobilenet_v3', 'edge_tpu',
                                  'training_scope', 'inception', _BN_V2),
    'mobilenet_edgetpu_075': _builtin('mobilenet.mobilenet_v3', 'edge_tpu_075',
                                      'training_scope', 'inception', _BN_V2),
    'nasnet_cifar': _builtin('nasnet.nasnet', 'build_nasnet_cifar',
                             'nasnet_cifar_arg_scope', 'inception', _BN),
    'nasnet_mobile': _builtin('nasnet.nasnet', 'build_nasnet_mobile',
                              'nasnet_mobile_arg_scope', 'inception', _BN),
    'nasnet_large': _builtin('nasnet.nasnet', 'build_nasnet_large',
                             'nasnet_large_arg_scope', 'inception', _BN),
    'pnasnet_mobile': _builtin('nasnet.pnasnet', 'build_pnasnet_mobile',
                               'pnasnet_mobile_arg_scope', 'inception', _BN),
    'pnasnet_large': _builtin('nasnet.pnasnet', 'build_pnasnet_large',
                              'pnasnet_large_arg_scope', 'inception', _BN),
    'i3d': _builtin('i3d', 'i3d', 'i3d_arg_scope', 'inception', _BN,
                    is_video=True),
    's3dg': _builtin('s3dg', 's3dg', 's3dg_arg_scope', 'inception', _BN,
                     is_video=True),
})
# Models given only one of their two functions so far (through
# networks_map / arg_scopes_map); they move to _MODELS once complete, so
# _MODELS holds exactly the models that can be built.
_PARTIAL = {}


def _entry(name):
  """The spec of `name`, complete or partial, or None."""
  return _MODELS.get(name) or _PARTIAL.get(name)


def _store(name, spec):
  """Files `spec` under `name` as complete, partial or gone."""
  _MODELS.pop(name, None)
  _PARTIAL.pop(name, None)
  if spec.network_fn is not None and spec.arg_scope_fn is not None:
    _MODELS[name] = spec
  elif spec.network_fn is not None or spec.arg_scope_fn is not None:
    _PARTIAL[name] = spec


class _FunctionMap(collections.abc.MutableMapping):
  """research/slim's `networks_map` / `arg_scopes_map`: name -> one of the
  two functions of each model, a view of the model registry.

  Setting a name that is not a model starts a model with the defaults of
  `ModelSpec`; setting a model's function keeps its other facts. Deleting
  drops that function; a model with neither function is gone.
  """

  def __init__(self, field):
    self._field = field

  def __getitem__(self, name):
    value = getattr(_entry(name), self._field, None)
    if value is None:
      raise KeyError(name)
    return _resolve(value)

  def __setitem__(self, name, fn):
    if fn is None:
      raise ValueError('%s[%r]: a function, not None' % (self._field, name))
    spec = _entry(name) or ModelSpec(None, None)
    _store(name, dataclasses.replace(spec, **{self._field: fn}))

  def __delitem__(self, name):
    if name not in self:
      raise KeyError(name)
    _store(name, dataclasses.replace(_entry(name), **{self._field: None}))

  def __contains__(self, name):
    # Without resolving, so `in` does not import the network's module.
    return getattr(_entry(name), self._field, None) is not None

  def __iter__(self):
    return iter(sorted(n for n in set(_MODELS) | set(_PARTIAL) if n in self))

  def __len__(self):
    return sum(1 for _ in self)

  def __repr__(self):
    return '<%s map of %d models>' % (self._field, len(self))


networks_map = _FunctionMap('network_fn')
arg_scopes_map = _FunctionMap('arg_scope_fn')


def register_model(name, network_fn, arg_scope_fn, preprocessing='inception',
                   default_image_size=None, is_video=False,
                   batch_norm_decay_arg=None):
  """Adds (or replaces) model `name`; the fields are those of `ModelSpec`.

  Args:
    name: the --model_name of the new model.
    network_fn: fn(images, num_classes, is_training, **kwargs) ->
      (logits [batch, num_classes], end_points dict), or a `Lazy`.
    arg_scope_fn: fn(weight_decay=..., [batch_norm_decay_arg]=...) -> an
      arg_scope dict, or a `Lazy`.
    preprocessing: preprocessing_factory name of its input function.
    default_image_size: input side in pixels (None: network_fn's
      `default_image_size` attribute, else 224).
    is_video: whether images are clips [batch, frames, height, width, ch].
    batch_norm_decay_arg: keyword of arg_scope_fn for the batch-norm decay,
      or None if it takes none (then --batch_norm_decay is refused).

  Returns:
    The `ModelSpec` registered.
  """
  if network_fn is None or arg_scope_fn is None:
    raise ValueError('register_model(%r): network_fn and arg_scope_fn are '
                     'both required' % name)
  spec = ModelSpec(network_fn, arg_scope_fn, preprocessing,
                   default_image_size, is_video, batch_norm_decay_arg)
  _store(name, spec)
  return spec


def unregister_model(name):
  """Removes model `name`, complete or partial (KeyError if absent)."""
  if _entry(name) is None:
    raise KeyError(name)
  _store(name, ModelSpec(None, None))


def network_names():
  """All valid network names (complete models), sorted."""
  return list(_MODELS)


def model_spec(name):
  """The `ModelSpec` of model `name`, without importing its module.

  Raises:
    UserError (a ValueError): if `name` is not a complete model.
  """
  if name in _PARTIAL:
    missing = ('networks_map' if _PARTIAL[name].network_fn is None else
               'arg_scopes_map')
    raise UserError('Model %r is half registered: %s[%r] is not set' %
                    (name, missing, name))
  return _MODELS.lookup(name)


def is_video_model(name):
  """Whether network `name` takes clips [batch, frames, height, width, ch]."""
  return model_spec(name).is_video


def batch_norm_decay_arg(name):
  """The keyword the arg_scope of network `name` takes for the batch-norm
  moving-average decay, or None when it takes none (no batch norm)."""
  return model_spec(name).batch_norm_decay_arg


class ImageTooSmall(UserError):
  """Images smaller than a network's strided layers and pools can take: one
  shrinks them to nothing, and TensorFlow's error names only that layer."""

  def __init__(self, name, size, layer, default_size):
    self.name, self.size = name, size
    self.layer, self.default_size = layer, default_size
    super().__init__(self.naming('an image size of '))

  def naming(self, flag):
    """The message with `flag` (e.g. '--train_image_size=') before the
    size."""
    return ('%s%s is too small for %s: its layers shrink the image to '
            'nothing (at %s); its default image size is %d px' % (
                flag, self.size, self.name, self.layer, self.default_size))


@contextlib.contextmanager
def image_too_small_names_flag(flag):
  """Re-raises an ImageTooSmall from inside as a UserError naming `flag`
  (e.g. '--train_image_size')."""
  try:
    yield
  except ImageTooSmall as e:
    raise UserError(e.naming(flag + '=')) from None


def _layer_in(message):
  """The node a TensorFlow shape error names, without its op's scope
  prefix (`{{node A/B/Conv2D}}` -> 'A/B')."""
  match = re.search(r'\{\{node ([^}]+)\}\}', message)
  return match.group(1).rsplit('/', 1)[0] if match else 'a pooling layer'


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
      batch_norm_decay is given for a network that takes none. The network
      function raises ImageTooSmall (a UserError) for images its layers
      shrink to nothing.
  """
  spec = model_spec(name)
  scope_args = {'weight_decay': weight_decay}
  if batch_norm_decay is not None:
    if spec.batch_norm_decay_arg is None:
      raise UserError('--batch_norm_decay: %s takes no batch-norm decay (it '
                      'has no batch norm)' % name)
    scope_args[spec.batch_norm_decay_arg] = batch_norm_decay
  func, arg_scope_fn = spec.network(), spec.arg_scope()

  @functools.wraps(func)
  def network_fn(images, **kwargs):
    try:
      with slim.arg_scope(arg_scope_fn(**scope_args)):
        return func(images, num_classes=num_classes, is_training=is_training,
                    **kwargs)
    except ValueError as e:
      if 'Negative dimension size' not in str(e):
        raise
      height = images.shape[-3] if images.shape.rank else None
      raise ImageTooSmall(name, height, _layer_in(str(e)),
                          spec.image_size()) from None

  network_fn.default_image_size = spec.image_size()
  return network_fn
