"""The 6-class satellite image set (glacier, rock, urban, water, wetland, wood).

Converted from its image folders by `download_and_convert_data.py
--dataset_name=satellite --source_dir=.../satellite` (no download: the
folder is required).
"""

from slimvision.datasets import dataset_utils
from slimvision.datasets import image_folder

NAME = 'satellite'
FILE_PATTERN = 'satellite_%s_*.tfrecord'
SPLITS_TO_SIZES = {'train': 4800, 'validation': 1200}
NUM_CLASSES = 6

# convert(dataset_dir, source, ...): the image-folder converter, under NAME.
convert = image_folder.converter(NAME)


def get_split(split_name, dataset_dir, file_pattern=None, reader=None):
  """The slim Dataset of split 'train' or 'validation'."""
  return dataset_utils.make_split(
      split_name, dataset_dir, file_pattern or FILE_PATTERN, SPLITS_TO_SIZES,
      NUM_CLASSES, NAME, reader=reader)
