"""Maps a dataset name to its `get_split` function.

Names not registered here are served from any folder that
download_and_convert_data.py converted from an image folder (its
dataset_spec.json says the split sizes and class count).
"""

import importlib

from slimvision.datasets import dataset_utils
from slimvision.datasets import image_folder

# name: module in datasets/ with get_split(split_name, dataset_dir, ...).
_DATASETS = {
    'cifar10': 'cifar10',
    'flowers': 'flowers',
    'imagenet': 'imagenet',
    'mnist': 'mnist',
    'satellite': 'satellite',
    'shapes': 'shapes',
    'visualwakewords': 'visualwakewords',
}


def dataset_names():
  """The registered dataset names, sorted."""
  return sorted(_DATASETS)


def get_dataset(name, split_name, dataset_dir, file_pattern=None,
                reader=None):
  """Returns the slim Dataset of split `split_name` of dataset `name`.

  Args:
    name: a registered dataset name, or the name a folder was converted
      under with download_and_convert_data.py --source_dir.
    split_name: e.g. 'train', 'validation', 'test'.
    dataset_dir: folder with the converted records.
    file_pattern: overrides the dataset's record file pattern (%s = split).
    reader: reader class (tf.TFRecordReader by default).

  Raises:
    dataset_utils.DatasetError: unknown name, unknown split or missing files;
      the message names the valid choices.
  """
  if name in _DATASETS:
    module = importlib.import_module('slimvision.datasets.' + _DATASETS[name])
    return module.get_split(split_name, dataset_dir, file_pattern, reader)
  spec = None
  if dataset_dir:
    dataset_utils.check_dataset_dir(dataset_dir)
    spec = dataset_utils.read_spec(dataset_dir)
  if spec is None or spec.get('name') != name:
    raise dataset_utils.DatasetError(
        'Unknown dataset name %r; valid names: %s, or the name a folder in '
        '--dataset_dir was converted under with download_and_convert_data.py'
        ' --source_dir%s' % (
            name, ', '.join(dataset_names()),
            ' (%s holds %r)' % (dataset_dir, spec['name']) if spec else ''))
  return image_folder.get_split(split_name, dataset_dir, file_pattern, reader)
