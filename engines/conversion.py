"""The conversion engine: `run(ConvertConfig)` converts or verifies a dataset.

Conversion itself belongs to each dataset module (datasets/, through
dataset_factory.convert); verification reads the converted records back
(engines/verification.py).
"""

from slimvision.datasets import dataset_factory
from slimvision.engines import verification


def run(config):
  """Converts (or with --verify, verifies) the dataset `config` names.

  Raises:
    UserError: a setting, source or output the conversion cannot use.
  """
  config.validate()
  if config.verify:
    return verification.run(config)
  return dataset_factory.convert(
      config.dataset_name, config.dataset_dir, source=config.source_dir,
      overwrite=config.overwrite, seed=config.seed,
      validation_fraction=config.validation_fraction,
      num_shards=config.num_shards,
      small_object_area_threshold=config.small_object_area_threshold,
      foreground_class_of_interest=config.foreground_class_of_interest,
      coco_dirname=config.coco_dirname)
