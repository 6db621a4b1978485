"""Maps a preprocessing (or model) name to its input function."""

import importlib

from slimvision.core.errors import UserError

# name: module in preprocessing/ that defines preprocess_image().
_PREPROCESSING = {
    'cifarnet': 'cifarnet_preprocessing',
    'lenet': 'lenet_preprocessing',
    'inception': 'inception_preprocessing',
    'vgg': 'vgg_preprocessing',
}
# Every model name uses the family TF-Slim gave it.
_MODEL_FAMILIES = {'cifarnet': 'cifarnet', 'lenet': 'lenet',
                   'inception': 'inception', 'vgg': 'vgg'}
for _name in ('inception_v1', 'inception_v2', 'inception_v3', 'inception_v4',
              'inception_resnet_v2', 'i3d', 's3dg',
              'mobilenet_v1', 'mobilenet_v1_075', 'mobilenet_v1_050',
              'mobilenet_v1_025', 'mobilenet_v2', 'mobilenet_v2_140',
              'mobilenet_v2_035', 'mobilenet_v3_small', 'mobilenet_v3_large',
              'mobilenet_v3_small_minimalistic',
              'mobilenet_v3_large_minimalistic', 'mobilenet_edgetpu',
              'mobilenet_edgetpu_075', 'nasnet_cifar', 'nasnet_mobile',
              'nasnet_large', 'pnasnet_mobile', 'pnasnet_large'):
  _MODEL_FAMILIES[_name] = 'inception'
for _name in ('alexnet_v2', 'overfeat', 'vgg_a', 'vgg_16', 'vgg_19',
              'resnet_v1_50', 'resnet_v1_101', 'resnet_v1_152',
              'resnet_v1_200', 'resnet_v2_50', 'resnet_v2_101',
              'resnet_v2_152', 'resnet_v2_200'):
  _MODEL_FAMILIES[_name] = 'vgg'


def preprocessing_names():
  """All valid names (families and model names), sorted."""
  return sorted(_MODEL_FAMILIES)


def family(name):
  """The family (cifarnet, inception, lenet, vgg) of a preprocessing or
  model name; UserError (a ValueError) if `name` is unknown."""
  if name not in _MODEL_FAMILIES:
    raise UserError('Unknown preprocessing name %r; valid names: %s' %
                    (name, ', '.join(preprocessing_names())))
  return _MODEL_FAMILIES[name]


def get_preprocessing(name, is_training=False, use_grayscale=False):
  """Returns `preprocessing_fn(image, output_height, output_width, **kwargs)`.

  Args:
    name: a family (cifarnet, inception, lenet, vgg) or a model name.
    is_training: training-time augmentation if True, else eval preprocessing.
    use_grayscale: convert the image to one channel.

  Returns:
    A function from a uint8 or float image [height, width, channels] to a
    float32 image [output_height, output_width, 1 or 3].

  Raises:
    UserError (a ValueError): if `name` is unknown.
  """
  module = importlib.import_module(
      'slimvision.preprocessing.' + _PREPROCESSING[family(name)])

  def preprocessing_fn(image, output_height, output_width, **kwargs):
    return module.preprocess_image(
        image, output_height, output_width, is_training=is_training,
        use_grayscale=use_grayscale, **kwargs)

  return preprocessing_fn
