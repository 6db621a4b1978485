"""Maps a preprocessing (or model) name to its input function.

`preprocessing_fn_map` (research/slim's name) maps a name to a module that
defines `preprocess_image(image, output_height, output_width, is_training,
use_grayscale, **kwargs)`. Its own entries are the four families (cifarnet,
inception, lenet, vgg; imported on first use) and whatever users add; every
model of the nets registry resolves to its `preprocessing` family, unless an
entry under the model's own name says otherwise:

  preprocessing_factory.preprocessing_fn_map['my_net'] = my_preprocessing
"""

import collections.abc

from slimvision.core.errors import UserError
from slimvision.core.registry import Lazy
from slimvision.core.registry import Registry
from slimvision.nets import nets_factory

_PACKAGE = 'slimvision.preprocessing.'
# Names with a module of their own: the families plus users' entries.
_MODULES = Registry('preprocessing name', {
    'cifarnet': Lazy(_PACKAGE + 'cifarnet_preprocessing'),
    'inception': Lazy(_PACKAGE + 'inception_preprocessing'),
    'lenet': Lazy(_PACKAGE + 'lenet_preprocessing'),
    'vgg': Lazy(_PACKAGE + 'vgg_preprocessing'),
})


def _model_family(name):
  """The preprocessing family of model `name`, or None if not a model."""
  if name in nets_factory.network_names():
    return nets_factory.model_spec(name).preprocessing
  return None


class _PreprocessingMap(collections.abc.MutableMapping):
  """name -> preprocessing module: own entries, then models' families.

  Setting or deleting changes own entries only; a model name without an own
  entry reads through to its family's module.
  """

  def __getitem__(self, name):
    if name not in self:
      raise KeyError(name)
    return _MODULES[name if name in _MODULES else _model_family(name)]

  def __setitem__(self, name, module):
    _MODULES[name] = module

  def __delitem__(self, name):
    del _MODULES[name]

  def __contains__(self, name):
    # Without resolving, so `in` imports no module.
    return name in _MODULES or _model_family(name) in _MODULES

  def __iter__(self):
    return iter(sorted(set(_MODULES) | {
        n for n in nets_factory.network_names() if n in self}))

  def __len__(self):
    return sum(1 for _ in self)

  def __repr__(self):
    return '<preprocessing_fn_map of %d names>' % len(self)


preprocessing_fn_map = _PreprocessingMap()


def preprocessing_names():
  """All valid names (families, users' entries and model names), sorted."""
  return list(preprocessing_fn_map)


def family(name):
  """The preprocessing of a preprocessing or model name: its own entry's
  name if it has one (cifarnet, inception, lenet, vgg or a user's), else the
  model's family; UserError (a ValueError) if `name` is unknown."""
  if name in _MODULES:
    return name
  model_family = _model_family(name)
  if model_family is None:
    raise UserError('Unknown preprocessing name %r; valid names: %s' %
                    (name, ', '.join(preprocessing_names())))
  return model_family


def output_range(name):
  """(low, high): the values the eval preprocessing of `name` gives (its
  module's OUTPUT_RANGE), or None where it has no fixed range (cifarnet's
  per-image standardisation, a user's module that does not say)."""
  name_family = family(name)
  if name_family not in _MODULES:
    return None
  return getattr(_MODULES[name_family], 'OUTPUT_RANGE', None)


def get_preprocessing(name, is_training=False, use_grayscale=False):
  """Returns `preprocessing_fn(image, output_height, output_width, **kwargs)`.

  Args:
    name: a key of `preprocessing_fn_map`: a family (cifarnet, inception,
      lenet, vgg), a user's entry or a model name.
    is_training: training-time augmentation if True, else eval preprocessing.
    use_grayscale: convert the image to one channel.

  Returns:
    A function from a uint8 or float image [height, width, channels] to a
    float32 image [output_height, output_width, 1 or 3]. Its attribute
    `accepts_encoded_image` says whether it also takes an EncodedImage
    (preprocessing/encoded_image.py) and decodes only what it needs: the
    module's ACCEPTS_ENCODED_IMAGE.

  Raises:
    UserError (a ValueError): if `name` is unknown, or is a model whose
      family has no entry in `preprocessing_fn_map`.
  """
  name_family = family(name)
  if name_family not in _MODULES:
    raise UserError('Model %r uses preprocessing %r, which is not in '
                    'preprocessing_fn_map; valid names: %s' %
                    (name, name_family, ', '.join(sorted(_MODULES))))
  module = _MODULES[name_family]

  def preprocessing_fn(image, output_height, output_width, **kwargs):
    return module.preprocess_image(
        image, output_height, output_width, is_training=is_training,
        use_grayscale=use_grayscale, **kwargs)

  preprocessing_fn.accepts_encoded_image = getattr(
      module, 'ACCEPTS_ENCODED_IMAGE', False)
  return preprocessing_fn
