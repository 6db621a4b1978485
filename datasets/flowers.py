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

import os
import random
import shutil
import tempfile

from slimvision.datasets import archive
from slimvision.datasets import conversion
from slimvision.datasets import dataset_utils
from slimvision.datasets import download
from slimvision.datasets import image_folder

NAME = 'flowers'
FILE_PATTERN = 'flowers_%s_*.tfrecord'
SPLITS_TO_SIZES = {'train': 3320, 'validation': 350}
NUM_CLASSES = 5
NUM_SHARDS = 5
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


def _make_record(item, class_names):
  path, label = item
  try:
    data, image_format, height, width = image_folder.encode_image_file(path)
  except (OSError, ValueError, SyntaxError) as e:
    raise conversion.Skip('%s: %s' % (os.path.basename(path), e))
  return dataset_utils.image_to_tfexample(
      data, image_format, height, width, label,
      class_text=class_names[label],
      filename=os.path.basename(path)).SerializeToString()


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
  existing = conversion.existing_conversion(dataset_dir, overwrite, log)
  if existing:
    return existing
  source = conversion.local_or_download(source, dataset_dir, download_source,
                                        log)
  extracted = None
  try:
    if os.path.isfile(source):
      os.makedirs(dataset_dir, exist_ok=True)
      extracted = tempfile.mkdtemp(prefix='.extract-', dir=dataset_dir)
      log('Extracting %s' % source)
      archive.extract(source, extracted)
      folder = _photo_root(extracted)
    else:
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
    sizes, skipped = {}, []
    with dataset_utils.StagedOutput(dataset_dir) as output:
      for split in sorted(splits):
        if not splits[split]:
          continue
        sizes[split], problems = conversion.write_split(
            output, splits[split], lambda i: _make_record(i, class_names),
            FILE_PATTERN, split, NUM_SHARDS, '%s %s' % (NAME, split),
            num_threads=num_threads)
        skipped += problems
        if not sizes[split]:
          raise conversion.ConversionError('No readable image in split %s of '
                                           '%s' % (split, source))
      output.commit(NAME, sizes, len(class_names), FILE_PATTERN,
                    labels_to_names=dict(enumerate(class_names)),
                    source=os.path.abspath(source), seed=seed)
  finally:
    if extracted:
      shutil.rmtree(extracted, ignore_errors=True)
  conversion.log_summary(NAME, dataset_dir, sizes, skipped, [], log)
  return conversion.summary(sizes, skipped, [])


def get_split(split_name, dataset_dir, file_pattern=None, reader=None):
  """The slim Dataset of split 'train' or 'validation'."""
  return conversion.get_split(
      NAME, split_name, dataset_dir, file_pattern or FILE_PATTERN,
      SPLITS_TO_SIZES, NUM_CLASSES, reader=reader,
      items_to_descriptions={
          'image': 'A color image of varying size.',
          'label': 'A single integer between 0 and 4'})
