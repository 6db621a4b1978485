"""research/slim's `datasets.download_and_convert_visualwakewords`: `run()`.

The work is visualwakewords.convert's, from the COCO 2014 copy in
dataset_dir/coco_dataset, where research/slim's run() downloads it. COCO
(about 19 GB) is not downloaded here: run() names the folder to fill when it
is missing. It writes train.record-NNNNN-of-00100,
val.record-NNNNN-of-00010, labels.txt and dataset_spec.json, and leaves a
complete earlier conversion as it is.
"""

import os

from slimvision.datasets import conversion
from slimvision.datasets import visualwakewords

COCO_DIRNAME = visualwakewords.COCO_DIRNAME


def run(dataset_dir,
        small_object_area_threshold=visualwakewords.DEFAULT_THRESHOLD,
        foreground_class_of_interest=visualwakewords.DEFAULT_FOREGROUND,
        coco_dirname=COCO_DIRNAME):
  """Converts COCO 2014 in dataset_dir/coco_dirname into Visual Wake Words.

  Args:
    dataset_dir: output folder, holding COCO in coco_dirname.
    small_object_area_threshold: smallest share of the image area an object
      of the foreground class needs for the label 1.
    foreground_class_of_interest: the COCO category of label 1.
    coco_dirname: COCO's folder under dataset_dir (train2014/, val2014/,
      annotations/instances_{train,val}2014.json).

  Returns:
    visualwakewords.convert's summary: {'splits': {split: records},
    'positives': {split: images labelled 1}, ...}.

  Raises:
    conversion.ConversionError: no COCO folder (saying where to put it), or
      what the conversion finds wrong in it.
  """
  conversion.require_dataset_dir(dataset_dir)
  coco_dir = os.path.join(dataset_dir, coco_dirname)
  if not os.path.isdir(coco_dir) and not conversion.existing_conversion(
      dataset_dir, False, log=lambda line: None):
    raise conversion.ConversionError(
        'No COCO 2014 folder at %s. COCO (about 19 GB) is not downloaded '
        'here: extract train2014.zip, val2014.zip and '
        'annotations_trainval2014.zip from https://cocodataset.org/#download '
        'into it (train2014/, val2014/, annotations/instances_*2014.json), '
        'or convert another folder with visualwakewords.convert(dataset_dir, '
        'source=FOLDER)' % coco_dir)
  return visualwakewords.convert(
      dataset_dir, coco_dirname=coco_dirname,
      small_object_area_threshold=small_object_area_threshold,
      foreground_class_of_interest=foreground_class_of_interest)
