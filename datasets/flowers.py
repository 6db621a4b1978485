"""Flowers: 3670 photos of 5 flower kinds; converter and reader.

Source: `flower_photos.tgz` (TensorFlow's example images), which holds
`flower_photos/<class>/*.jpg` for daisy, dandelion, roses, sunflowers and
tulips, or that folder already extracted. As in TF-Slim, all photos are
shuffled with --seed and the first 350 form `validation`, the other 3320
`train` (a smaller source keeps the same 350/3670 share). Archives are
extracted safely (see archive.py) into a temporary folder that is removed
afterwards. Unreadable images are skipped and counted.

Output: `flowers_{train,validation}_0000N-of-00005.tfrecord` (JPEG bytes as
in the source), `labels.txt`, `dataset_spec.json`.
"""

import functools
import os
import random
import shutil
import tempfile

from slimvision.datasets import archive
from slimvision.datasets import conversion
from slimvision.datasets import download
from slimvision.datasets import image_folder

NAME = 'flowers'
FILE_PATTERN = 'flowers_%s_*.tfrecord'
SPLITS_TO_SIZES = {'train': 3320, 'validation': 350}
NUM_CLASSES = 5
NUM_SHARDS = 5
# research/slim's names of FILE_PATTERN, SPLITS_TO_SIZES and NUM_CLASSES.
_FILE_PATTERN, _SPLITS_TO_SIZES, _NUM_CLASSES = (
    FILE_PATTERN, SPLITS_TO_SIZES, NUM_CLASSES)
URL = ('https://storage.googleapis.com/download.tensorflow.org/'
       'example_images/flower_photos.tgz')
MIRROR = 'http://download.tensorflow.org/example_images/flower_photos.tgz'
ARCHIVE_NAME = 'flower_photos.tgz'
ARCHIVE_SIZE = 228813984  # Bytes; no checksum is published.
_TOTAL = 3670


def download_source(download_dir, log=print):
  """Downloads flower_photos.tgz (length-checked) into download_dir."""
  return download.fetch(URL, download_dir, ARCHIVE_NAME, size=ARCHIVE_SIZE,
                        log=log, mirrors=(MIRROR,))


def _photo_root(folder):
  """The folder whose sub-folders are the classes (flower_photos/ or folder)."""
  inner = os.path.join(folder, 'flower_photos')
  return inner if os.path.isdir(inner) else folder


def num_validation(total):
  """350 of the official 3670 photos; the same share of a smaller source."""
  return int(round(total * SPLITS_TO_SIZES['validation'] / float(_TOTAL)))


def convert(dataset_dir, source=None, overwrite=False, seed=0, log=print,
            num_threads=4):
  """Converts the flower photos into dataset_dir.

  Args:
    dataset_dir: output folder.
    source: flower_photos.tgz, or the (extracted) folder; None downloads the
      archive into dataset_dir/downloads.
    overwrite: replace a complete earlier conversion.
    seed: seed of the shuffle that picks the validation photos.
    log: function taking a message line.
    num_threads: threads reading images.

  Returns:
    {'splits': {split: records}, 'skipped': [reasons], 'missing': []}.
  """

  def plan(source, resources):
    if os.path.isfile(source):
      os.makedirs(dataset_dir, exist_ok=True)
      extracted = tempfile.mkdtemp(prefix='.extract-', dir=dataset_dir)
      resources.callback(shutil.rmtree, extracted, ignore_errors=True)
      log('Extracting %s' % source)
      archive.extract(source, extracted)
      source = extracted
    folder = _photo_root(source)
    try:
      class_names, found = image_folder.discover(folder,
                                                 validation_fraction=0.0)
    except image_folder.ConversionError as e:
      raise conversion.ConversionError('%s (expected flower_photos/<class>/'
                                       '*.jpg)' % e)
    photos = sorted(found.get('train', []) + found.get('validation', []))
    random.Random(seed).shuffle(photos)
    held_out = num_validation(len(photos))
    splits = {'validation': photos[:held_out], 'train': photos[held_out:]}
    return conversion.Plan(
        {split: items for split, items in splits.items() if items},
        functools.partial(image_folder.image_record, class_names=class_names),
        dict(enumerate(class_names)), FILE_PATTERN, num_shards=NUM_SHARDS,
        num_threads=num_threads,
        describe=lambda item: os.path.basename(item[0]),
        require_records=True, spec={'seed': seed})

  return conversion.run(NAME, dataset_dir, plan, source=source,
                        download_fn=download_source, overwrite=overwrite,
                        log=log)


def get_split(split_name, dataset_dir, file_pattern=None, reader=None):
  """The slim Dataset of split 'train' or 'validation'."""
  return conversion.get_split(
      NAME, split_name, dataset_dir, file_pattern or FILE_PATTERN,
      SPLITS_TO_SIZES, NUM_CLASSES, reader=reader,
      items_to_descriptions={
          'image': 'A color image of varying size.',
          'label': 'A single integer between 0 and 4'})
