"""Visual Wake Words: COCO 2014 images labelled person / no person.

Derived from COCO 2014 (https://cocodataset.org/#download: train2014.zip,
val2014.zip and annotations_trainval2014.zip, which must be fetched and
extracted first):

  SOURCE/train2014/*.jpg, SOURCE/val2014/*.jpg
  SOURCE/annotations/instances_train2014.json, instances_val2014.json

An image is labelled 1 when it holds at least one object of
--foreground_class_of_interest ('person') whose segmented area is at least
--small_object_area_threshold (0.005) of the image area, else 0. The boxes
of those objects are kept, normalized to [0, 1], as
`image/object/bbox/{xmin,ymin,xmax,ymax}` with `image/object/class/label`
1 for each and `image/object/area` (pixels).

Output: `train.record-NNNNN-of-00100`, `val.record-NNNNN-of-00010` (the
JPEG bytes, in annotation order), labels.txt (0:background,
1:<foreground class>), dataset_spec.json.
"""

import functools
import json
import os

import tensorflow.compat.v1 as tf

from slimvision.datasets import conversion
from slimvision.datasets import dataset_utils
from slimvision.datasets import image_folder

NAME = 'visualwakewords'
FILE_PATTERN = '%s.record-*'
SPLITS_TO_SIZES = {'train': 82783, 'val': 40504}
NUM_CLASSES = 2
NUM_SHARDS = {'train': 100, 'val': 10}
# research/slim's names of FILE_PATTERN, SPLITS_TO_SIZES and NUM_CLASSES.
_FILE_PATTERN, _SPLITS_TO_SIZES, _NUM_CLASSES = (
    FILE_PATTERN, SPLITS_TO_SIZES, NUM_CLASSES)
DEFAULT_THRESHOLD = 0.005
DEFAULT_FOREGROUND = 'person'
# COCO's folder under the dataset folder when no source is given: where
# research/slim's conversion downloads it (its --coco_dirname).
COCO_DIRNAME = 'coco_dataset'
# split: (image folder, annotation file) under the source folder.
SPLIT_SOURCES = {
    'train': ('train2014', os.path.join('annotations',
                                        'instances_train2014.json')),
    'val': ('val2014', os.path.join('annotations', 'instances_val2014.json')),
}


def where_to_get(coco_folder=None):
  """Where COCO comes from, for errors; coco_folder: the folder under the
  dataset folder that would be read without a source."""
  return (
      'Visual Wake Words is built from COCO 2014, which is not downloaded '
      'here: get train2014.zip, val2014.zip and annotations_trainval2014.zip '
      'from https://cocodataset.org/#download, extract them into one folder '
      '(train2014/, val2014/, annotations/instances_*2014.json) and pass it '
      'with --source_dir, or extract them into %s (--coco_dirname)' % (
          coco_folder or '--dataset_dir/' + COCO_DIRNAME))


def load_annotations(path):
  """The COCO instances JSON, with a clear error when unreadable."""
  try:
    with open(path, encoding='utf-8') as f:
      data = json.load(f)
  except (OSError, ValueError) as e:
    raise conversion.ConversionError('%s is not a readable COCO annotation '
                                     'file (%s)' % (path, e))
  for key in ('images', 'categories'):
    if key not in data:
      raise conversion.ConversionError('%s has no %r list: not a COCO '
                                       'instances file' % (path, key))
  return data


def label_images(data, foreground, threshold):
  """Labels each image and keeps its large foreground boxes.

  Args:
    data: COCO instances dict ('images', 'annotations', 'categories').
    foreground: category name of interest, e.g. 'person'.
    threshold: smallest object area, as a share of the image area, that
      makes an image positive.

  Returns:
    [(image dict, label 0/1, [(xmin, ymin, xmax, ymax, area)] normalized)]
    in the order of data['images'], and the number of foreground boxes
    dropped as empty or outside the image.

  Raises:
    conversion.ConversionError: unknown foreground category.
  """
  ids = [c['id'] for c in data['categories'] if c.get('name') == foreground]
  if not ids:
    raise conversion.ConversionError(
        'Unknown --foreground_class_of_interest %r; COCO categories: %s' % (
            foreground, ', '.join(sorted(c.get('name', '?')
                                         for c in data['categories']))))
  foreground_id = ids[0]
  by_image = {}
  for annotation in data.get('annotations', []):
    if annotation.get('category_id') == foreground_id:
      by_image.setdefault(annotation['image_id'], []).append(annotation)
  labelled, dropped = [], 0
  for image in data['images']:
    height, width = float(image['height']), float(image['width'])
    label, boxes = 0, []
    for annotation in by_image.get(image['id'], []):
      if annotation['area'] / (height * width) < threshold:
        continue
      label = 1
      x, y, w, h = (float(v) for v in annotation['bbox'])
      if w <= 0 or h <= 0 or x + w > width or y + h > height:
        dropped += 1
        continue
      boxes.append((x / width, y / height, (x + w) / width, (y + h) / height,
                    float(annotation['area'])))
    labelled.append((image, label, boxes))
  return labelled, dropped


def _make_record(item, class_names):
  image_dir, image, label, boxes = item
  data, image_format, height, width = image_folder.encode_image_file(
      os.path.join(image_dir, image['file_name']))
  extra = dataset_utils.box_features([box[:4] for box in boxes],
                                     [1] * len(boxes))
  extra['image/object/area'] = dataset_utils.float_feature(
      [box[4] for box in boxes])
  extra['image/source_id'] = dataset_utils.bytes_feature(str(image['id']))
  return dataset_utils.image_to_tfexample(
      data, image_format, height, width, label, class_text=class_names[label],
      filename=image['file_name'], extra_features=extra).SerializeToString()


def _labelled_splits(source, foreground_class_of_interest,
                     small_object_area_threshold, log):
  """Each split of COCO in `source` labelled (see label_images).

  Returns:
    ({split: [(image_dir, image dict, label, boxes)]}, [(split, why it
    is missing)], {split: images labelled 1}).
  """
  splits, missing, positives = {}, [], {}
  for split, (image_dir, annotations) in sorted(SPLIT_SOURCES.items()):
    image_dir = os.path.join(source, image_dir)
    annotations = os.path.join(source, annotations)
    if not os.path.isfile(annotations) or not os.path.isdir(image_dir):
      missing.append((split, '%s lacks %s or %s/' % (
          source, os.path.relpath(annotations, source),
          os.path.relpath(image_dir, source))))
      continue
    log('Reading %s' % annotations)
    labelled, dropped = label_images(load_annotations(annotations),
                                     foreground_class_of_interest,
                                     small_object_area_threshold)
    if dropped:
      log('%s: %d %s box(es) outside the image or empty, dropped' %
          (split, dropped, foreground_class_of_interest))
    splits[split] = [(image_dir,) + entry for entry in labelled]
    positives[split] = sum(1 for _, label, _ in labelled if label)
  return splits, missing, positives


def convert(dataset_dir, source=None, overwrite=False, seed=0, log=print,
            small_object_area_threshold=DEFAULT_THRESHOLD,
            foreground_class_of_interest=DEFAULT_FOREGROUND, num_threads=4,
            num_shards=None, coco_dirname=COCO_DIRNAME):
  """Converts COCO 2014 into the Visual Wake Words records.

  Args:
    dataset_dir: output folder.
    source: the COCO 2014 folder (see module docstring); None: the
      folder coco_dirname under dataset_dir, if there is one.
    overwrite: replace a complete earlier conversion.
    seed: unused (annotation order is kept).
    log: function taking a message line.
    small_object_area_threshold: see label_images().
    foreground_class_of_interest: see label_images().
    num_threads: threads reading images.
    num_shards: record files of every split (an int), or {split: files};
      NUM_SHARDS by default.
    coco_dirname: see `source`.

  Returns:
    {'splits': {split: records}, 'skipped': [reasons], 'missing': [splits],
     'positives': {split: images labelled 1}}.
  """
  del seed
  beside = (os.path.join(dataset_dir, coco_dirname)
            if dataset_dir and coco_dirname else None)
  if source is None and beside and os.path.isdir(beside):
    source = beside

  def plan(source, resources):
    del resources  # Nothing to close.
    if not 0 <= small_object_area_threshold < 1:
      raise conversion.ConversionError(
          '--small_object_area_threshold must be in [0, 1), got %s' %
          small_object_area_threshold)
    splits, missing, positives = _labelled_splits(
        source, foreground_class_of_interest, small_object_area_threshold,
        log)
    if not splits:
      raise conversion.ConversionError('%s holds neither split. %s' %
                                       (source, where_to_get(beside)))

    def report(name, dataset_dir, sizes, skipped, missing, log):
      conversion.log_summary(name, dataset_dir, sizes, skipped, missing, log)
      log('  images labelled 1 (%s) before skipping: %s' % (
          foreground_class_of_interest,
          ', '.join('%s %d' % kv for kv in sorted(positives.items()))))

    class_names = {0: 'background', 1: foreground_class_of_interest}
    return conversion.Plan(
        splits, functools.partial(_make_record, class_names=class_names),
        class_names, FILE_PATTERN,
        num_shards=conversion.shards_per_split(num_shards, NUM_SHARDS),
        missing=missing, num_threads=num_threads,
        describe=lambda item: item[1]['file_name'],
        spec={'small_object_area_threshold': small_object_area_threshold,
              'foreground_class_of_interest': foreground_class_of_interest},
        report=report, summary={'positives': positives})

  return conversion.run(NAME, dataset_dir, plan, source=source,
                        overwrite=overwrite, log=log,
                        where_to_get=where_to_get(beside))


def decoder():
  """Items 'image', 'label', 'object/bbox' ([N, 4]: ymin, xmin, ymax, xmax)
  and 'object/label' ([N])."""
  box_keys, box_handlers = dataset_utils.object_box_features()
  return dataset_utils.image_decoder(
      channels=3,
      extra_keys_to_features={
          'image/format': tf.FixedLenFeature((), tf.string,
                                             default_value='jpeg'),
          **box_keys},
      extra_items_to_handlers=box_handlers)


def get_split(split_name, dataset_dir, file_pattern=None, reader=None):
  """The slim Dataset of split 'train' or 'val' (labels 0/1)."""
  return conversion.get_split(
      NAME, split_name, dataset_dir, file_pattern or FILE_PATTERN,
      SPLITS_TO_SIZES, NUM_CLASSES, reader=reader, decoder=decoder(),
      items_to_descriptions={
          'image': 'A color image of varying height and width.',
          'label': 'The label id of the image, an integer in {0, 1}',
          'object/bbox': 'A list of bounding boxes.',
          'object/label': 'A list of labels, one per each object.'})
