"""The dataset registry: name -> dataset module, open to users.

`datasets_map` maps each dataset name to its module, as research/slim's
`dataset_factory.datasets_map` does: anything with `get_split(split_name,
dataset_dir, file_pattern=None, reader=None)` and, to be converted by
download_and_convert_data.py, `convert(dataset_dir, source=None,
overwrite=False, seed=0, log=print, ...)`, where `...` are its own options
as keywords with defaults (or **options). Add to it and every script serves
the new name:

  from slimvision.datasets import dataset_factory
  dataset_factory.datasets_map['mydata'] = my_dataset_module

Names not registered are served from any folder that
download_and_convert_data.py converted from an image folder (its
dataset_spec.json names it and says the split sizes and class count).
"""

import inspect
import os

from slimvision.core import registry
from slimvision.core.errors import UserError
from slimvision.datasets import dataset_utils
from slimvision.datasets import image_folder

datasets_map = registry.Registry('dataset name', {
    name: registry.Lazy('slimvision.datasets.' + name)
    for name in ('cifar10', 'flowers', 'imagenet', 'mnist', 'satellite',
                 'shapes', 'visualwakewords')})

# The arguments every converter takes; the rest are its own options.
CONVERT_ARGUMENTS = ('dataset_dir', 'source', 'overwrite', 'seed', 'log')


def dataset_names():
  """The registered dataset names, sorted."""
  return list(datasets_map)


def get_dataset(name, split_name, dataset_dir, file_pattern=None,
                reader=None):
  """Returns the slim Dataset of split `split_name` of dataset `name`.

  Args:
    name: a name in `datasets_map`, or the name a folder was converted
      under with download_and_convert_data.py --source_dir.
    split_name: e.g. 'train', 'validation', 'test'.
    dataset_dir: folder with the converted records.
    file_pattern: overrides the dataset's record file pattern (%s = split).
    reader: reader class (tf.TFRecordReader by default).

  Raises:
    dataset_utils.DatasetError: unknown name, unknown split or missing files;
      the message names the valid choices.
  """
  if name in datasets_map:
    return datasets_map[name].get_split(split_name, dataset_dir, file_pattern,
                                        reader)
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


def num_classes(name, dataset_dir=None):
  """The number of classes (labels 0..n-1) of dataset `name`.

  From the data when dataset_dir holds a conversion (the split 'train', or
  the first split its spec lists); otherwise the module's NUM_CLASSES, so
  e.g. 'imagenet' gives 1001 with no data at hand, as TF-Slim's export did;
  otherwise from the split 'train' of dataset_dir, if given.

  Args:
    name: a dataset name, as for get_dataset().
    dataset_dir: folder with the converted records, or None.

  Raises:
    UserError: the count cannot be known without the data and no
      dataset_dir was given (dataset_utils.DatasetError: dataset_dir cannot
      be served).
  """
  spec = (dataset_utils.read_spec(dataset_dir)
          if dataset_dir and os.path.isdir(dataset_dir) else None)
  if spec is None:
    count = getattr(datasets_map[name], 'NUM_CLASSES', None) if (
        name in datasets_map) else None
    if count is not None:
      return count
    if not dataset_dir:
      raise UserError(
          'The number of classes of dataset %r is not known without its '
          'data: pass --dataset_dir=FOLDER (converted with '
          'download_and_convert_data.py) or --num_classes%s' % (
              name, '' if name in datasets_map else
              ' (registered datasets: %s)' % ', '.join(dataset_names())))
  splits = sorted((spec or {}).get('splits') or ['train'])
  split = 'train' if 'train' in splits else splits[0]
  return get_dataset(name, split, dataset_dir).num_classes


def _options_taken_by(function, options):
  """The options `function` accepts by name (all if it takes **kwargs),
  leaving out those set to None so that its defaults apply."""
  parameters = inspect.signature(function).parameters.values()
  takes_any = any(p.kind == p.VAR_KEYWORD for p in parameters)
  names = {p.name for p in parameters
           if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
  return {key: value for key, value in options.items()
          if value is not None and key not in CONVERT_ARGUMENTS and
          (takes_any or key in names)}


def convert(name, dataset_dir, source=None, overwrite=False, seed=0,
            log=print, **options):
  """Converts dataset `name` into dataset_dir (download_and_convert_data.py).

  A registered dataset is converted by its module's `convert`; any other
  name given with a source is converted as an image folder under that name
  (image_folder.convert).

  Args:
    name: a name in `datasets_map`, or any name for an image folder.
    dataset_dir: output folder.
    source: local copy of the source (file or folder); None downloads it
      where the dataset can be downloaded.
    overwrite: replace a complete earlier conversion.
    seed: seed of the shuffles and split assignments.
    log: function taking a message line.
    **options: converter-specific keywords, e.g. validation_fraction and
      num_shards (image folders), small_object_area_threshold and
      foreground_class_of_interest (visualwakewords). Each converter is
      passed only the options its signature names (all of them if it takes
      **kwargs), and none set to None, so a caller can pass every option it
      has to any dataset; the others are ignored.

  Returns:
    The converter's summary: {'splits': {split: records}, 'skipped':
    [reasons], 'missing': [splits], ...}.

  Raises:
    UserError: no name, no dataset_dir, an unknown name without a source, a
      registered dataset without a converter, or the converter's errors.
  """
  if not name:
    raise UserError('--dataset_name is required; built-in: %s, or any name '
                    'with --source_dir=FOLDER' % ', '.join(dataset_names()))
  if not dataset_dir:
    raise UserError('--dataset_dir is required: where to write the records')
  if name in datasets_map:
    converter = getattr(datasets_map[name], 'convert', None)
    if converter is None:
      raise UserError('Dataset %r has no convert function; write its records '
                      'with your own code, or register a module with '
                      'convert(dataset_dir, source=None, overwrite=False, '
                      'seed=0, log=print, **options)' % name)
  elif source:
    converter = image_folder.converter(name)
  else:
    raise UserError('Unknown --dataset_name %r: built-in datasets are %s; '
                    'for your own image folder pass --source_dir=FOLDER' %
                    (name, ', '.join(dataset_names())))
  return converter(dataset_dir, source=source, overwrite=overwrite, seed=seed,
                   log=log, **_options_taken_by(converter, options))
