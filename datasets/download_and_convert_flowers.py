"""research/slim's `datasets.download_and_convert_flowers`: `run(dataset_dir)`.

The work is flowers.convert's: it downloads flower_photos.tgz into
dataset_dir/downloads (length-checked, kept for a later --overwrite), holds
out 350 photos for validation as TF-Slim does (seed 0), writes
flowers_{train,validation}_0000N-of-00005.tfrecord, labels.txt and
dataset_spec.json, and leaves a complete earlier conversion as it is.
"""

from slimvision.datasets import flowers


def run(dataset_dir):
  """Downloads the flower photos and converts them into dataset_dir.

  Returns:
    flowers.convert's summary: {'splits': {split: records}, 'skipped':
    [unreadable photos], ...}.

  Raises:
    UserError (ConversionError and the download's errors): what failed,
    by file or address.
  """
  return flowers.convert(dataset_dir)
