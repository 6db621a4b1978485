"""research/slim's `datasets.download_and_convert_visualwakewords`: `run()`.

The work is visualwakewords.convert's, from the COCO 2014 copy in
dataset_dir/coco_dataset, where research/slim's run() downloads it. COCO
(about 19 GB) is not downloaded here: when it is missing, the error names
the folder to fill. It writes train.record-NNNNN-of-00100,
val.record-NNNNN-of-00010, labels.txt and dataset_spec.json, and leaves a
complete earlier conversion as it is.
"""

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
    conversion.ConversionError: no COCO there (naming the folder to fill,
      and where to get COCO), or what the conversion finds wrong in it.
  """
  return visualwakewords.convert(
      dataset_dir, coco_dirname=coco_dirname,
      small_object_area_threshold=small_object_area_threshold,
      foreground_class_of_interest=foreground_class_of_interest)
