"""ImageNet (ILSVRC-2012 classification): converter and reader.

ImageNet cannot be downloaded anonymously: register at
https://image-net.org/download-images (ILSVRC2012_img_train.tar,
ILSVRC2012_img_val.tar, ILSVRC2012_bbox_train_v2.tar.gz and
ILSVRC2012_bbox_val_v3.tgz), extract them, and pass the folder:

  SOURCE/train/<synset>/*.JPEG            training images, a folder per class
  SOURCE/validation/*.JPEG                validation images (or val/), with
  SOURCE/imagenet_2012_validation_synset_labels.txt
                                          their ground-truth synsets, one line
                                          per image in sorted file-name order
                                          (or validation/<synset>/*.JPEG)
  SOURCE/imagenet_lsvrc_2015_synsets.txt  the 1000 synsets, one per line
                                          (or synsets.txt)
  SOURCE/imagenet_metadata.txt            'synset<TAB>human-readable name'
                                          (or synset_words.txt)
  SOURCE/bounding_boxes/**/*.xml          optional: the PASCAL-VOC style box
                                          files, matched to images by name

Labels are 1..1000 in the order of the sorted synsets; 0 is 'background', so
the dataset has 1001 classes as the TF-Slim checkpoints expect. Records hold
the JPEG bytes, `image/class/{label,synset,text}` and the boxes as
`image/object/bbox/{xmin,ymin,xmax,ymax}` (normalized to [0, 1]) with
`image/object/class/label` (the label of each box's synset).

Output: `train-NNNNN-of-01024`, `validation-NNNNN-of-00128`, labels.txt,
dataset_spec.json. The training images are shuffled with --seed.

create_readable_names_for_imagenet_labels() gives the same 1001 names
without a conversion, as research/slim's does (for a model-zoo checkpoint's
outputs), from the two name files it downloads, kept in a cache here.
"""

import functools
import os
import random
import xml.etree.ElementTree as ElementTree

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.core.files import cache_dir
from slimvision.datasets import conversion
from slimvision.datasets import dataset_utils
from slimvision.datasets import download
from slimvision.datasets import image_folder

NAME = 'imagenet'
FILE_PATTERN = '%s-*'
SPLITS_TO_SIZES = {'train': 1281167, 'validation': 50000}
NUM_CLASSES = 1001
NUM_SHARDS = {'train': 1024, 'validation': 128}
# research/slim's names of FILE_PATTERN, SPLITS_TO_SIZES and NUM_CLASSES.
_FILE_PATTERN, _SPLITS_TO_SIZES, _NUM_CLASSES = (
    FILE_PATTERN, SPLITS_TO_SIZES, NUM_CLASSES)
SYNSET_FILES = ('imagenet_lsvrc_2015_synsets.txt', 'synsets.txt')
METADATA_FILES = ('imagenet_metadata.txt', 'synset_words.txt')
VALIDATION_LABEL_FILES = ('imagenet_2012_validation_synset_labels.txt',
                          'validation_synset_labels.txt',
                          'val_synset_labels.txt')
BBOX_FOLDERS = ('bounding_boxes', 'bboxes', 'bbox')
# Where research/slim's create_readable_names_for_imagenet_labels() reads
# SYNSET_FILES[0] and METADATA_FILES[0]; the metadata file's older home is
# the mirror.
LABEL_NAMES_URL = ('https://raw.githubusercontent.com/tensorflow/models/'
                   'master/research/slim/datasets/')
LABEL_NAMES_MIRROR = ('https://raw.githubusercontent.com/tensorflow/models/'
                      'master/research/inception/inception/data/')
NUM_SYNSETS = NUM_CLASSES - 1
WHERE_TO_GET = (
    'ImageNet cannot be downloaded anonymously: get ILSVRC2012_img_train.tar, '
    'ILSVRC2012_img_val.tar (and optionally the bounding boxes) from '
    'https://image-net.org/download-images after registering, extract them '
    'and pass the folder with --source_dir (layout: train/<synset>/*.JPEG, '
    'validation/*.JPEG with imagenet_2012_validation_synset_labels.txt, '
    'imagenet_lsvrc_2015_synsets.txt, imagenet_metadata.txt; see '
    'datasets/imagenet.py)')
# The image-folder converter's listing rules (sorted, hidden files skipped).
_class_dirs = image_folder._class_dirs  # pylint: disable=protected-access
_list_images = image_folder._list_images  # pylint: disable=protected-access


def _first_file(folder, names):
  for name in names:
    path = os.path.join(folder, name)
    if os.path.isfile(path):
      return path
  return None


def _read_lines(path):
  with open(path, encoding='utf-8') as f:
    return [line.strip() for line in f if line.strip()]


def read_synsets(source):
  """The sorted synset list (from the list file, else the train folders)."""
  path = _first_file(source, SYNSET_FILES)
  if path:
    synsets = [line.split()[0] for line in _read_lines(path)]
  else:
    train = os.path.join(source, 'train')
    synsets = (_class_dirs(train)
               if os.path.isdir(train) else [])
  if not synsets:
    raise conversion.ConversionError(
        '%s has no synset list (%s) and no train/<synset>/ folders. %s' %
        (source, ' or '.join(SYNSET_FILES), WHERE_TO_GET))
  if len(set(synsets)) != len(synsets):
    raise conversion.ConversionError('%s lists a synset twice' % path)
  return sorted(synsets)


def read_human_names(source, synsets):
  """{synset: human-readable name}; the synset itself where none is known."""
  path = _first_file(source, METADATA_FILES)
  names = {}
  if path:
    for line in _read_lines(path):
      parts = line.split('\t', 1) if '\t' in line else line.split(None, 1)
      if len(parts) == 2:
        names[parts[0]] = parts[1].strip()
  return {s: names.get(s, s) for s in synsets}


def labels_to_names(synsets, human_names):
  """{label: name}: 0 'background', then each synset's name in order."""
  labels = {0: 'background'}
  labels.update({i + 1: human_names[s] for i, s in enumerate(synsets)})
  return labels


def _fetch_label_name_files(cache, log):
  """Downloads the synset list and the metadata into `cache` (kept), or
  nothing where they are there."""
  for name in (SYNSET_FILES[0], METADATA_FILES[0]):
    if os.path.exists(os.path.join(cache, name)):
      continue
    try:
      download.fetch(
          LABEL_NAMES_URL + name, cache, name, log=log,
          mirrors=(LABEL_NAMES_MIRROR + name,),
          instead='Or pass a folder holding %s and %s as source_dir' % (
              SYNSET_FILES[0], METADATA_FILES[0]))
    except download.DownloadError as e:
      raise dataset_utils.DatasetError('ImageNet label names: %s' % e)


def create_readable_names_for_imagenet_labels(source_dir=None, log=print):
  """{label: human-readable name} of the 1001 labels of the TF-Slim
  checkpoints: 0 'background', then the 1000 ILSVRC synsets in sorted
  order (1: 'tench, Tinca tinca').

  Args:
    source_dir: a folder holding the synset list and the metadata file
      (SYNSET_FILES, METADATA_FILES), e.g. the ImageNet source folder.
      None: research/slim's two files, downloaded on the first call into
      $SLIMVISION_CACHE/imagenet (~/.cache/slimvision/imagenet) and read
      from there afterwards.
    log: function taking a message line (the download's).

  Raises:
    DatasetError: a download failed, or the synset list does not hold 1000
      synsets, each with a name (a bad download is removed from the cache).
  """
  if source_dir is not None:
    return _label_names_in(source_dir)
  folder = cache_dir(NAME)
  _fetch_label_name_files(folder, log)
  try:
    return _label_names_in(folder)
  except dataset_utils.DatasetError:
    for name in (SYNSET_FILES[0], METADATA_FILES[0]):
      os.remove(os.path.join(folder, name))  # The next call downloads anew.
    raise


def _label_names_in(folder):
  """labels_to_names() of the name files in `folder`, checked."""
  try:
    synsets = read_synsets(folder)
  except conversion.ConversionError as e:
    raise dataset_utils.DatasetError('ImageNet label names: %s' % e)
  if len(synsets) != NUM_SYNSETS:
    raise dataset_utils.DatasetError(
        'ImageNet label names: %s lists %d synsets, expected %d' % (
            _first_file(folder, SYNSET_FILES) or os.path.join(folder, 'train'),
            len(synsets), NUM_SYNSETS))
  human_names = read_human_names(folder, synsets)
  unnamed = [s for s in synsets if human_names[s] == s]
  if unnamed:
    raise dataset_utils.DatasetError(
        'ImageNet label names: %d synsets have no name in %s (first: %s)' % (
            len(unnamed), _first_file(folder, METADATA_FILES) or
            ' or '.join(METADATA_FILES), unnamed[0]))
  return labels_to_names(synsets, human_names)


def _validation_dir(source):
  for name in ('validation', 'val'):
    path = os.path.join(source, name)
    if os.path.isdir(path):
      return path
  return None


def list_split(source, split, synset_to_label):
  """[(path, synset)] of a split, or None when the source lacks it.

  Raises:
    conversion.ConversionError: unknown synset folders, or a validation label
      list whose length does not match the images.
  """
  folder = (os.path.join(source, 'train') if split == 'train'
            else _validation_dir(source))
  if not folder or not os.path.isdir(folder):
    return None
  class_dirs = _class_dirs(folder)
  if class_dirs:
    unknown = sorted(set(class_dirs) - set(synset_to_label))
    if unknown:
      raise conversion.ConversionError(
          '%s has folders that are not in the synset list: %s' %
          (folder, ', '.join(unknown[:10])))
    return [(path, synset) for synset in class_dirs
            for path in _list_images(os.path.join(folder, synset))]
  images = _list_images(folder)
  if not images:
    return None
  labels_path = _first_file(source, VALIDATION_LABEL_FILES)
  if not labels_path:
    raise conversion.ConversionError(
        '%s holds images without class folders, and %s has no ground-truth '
        'list (%s)' % (folder, source, ' or '.join(VALIDATION_LABEL_FILES)))
  synsets = _read_lines(labels_path)
  if len(synsets) != len(images):
    raise conversion.ConversionError(
        '%s lists %d labels but %s holds %d images' %
        (labels_path, len(synsets), folder, len(images)))
  unknown = sorted(set(synsets) - set(synset_to_label))
  if unknown:
    raise conversion.ConversionError('%s names synsets not in the synset '
                                     'list: %s' % (labels_path,
                                                   ', '.join(unknown[:10])))
  return list(zip(images, synsets))


def index_boxes(source):
  """{image file stem: xml path} under the bounding-box folder(s)."""
  index = {}
  for name in BBOX_FOLDERS:
    root = os.path.join(source, name)
    for folder, _, files in sorted(os.walk(root)):
      for filename in sorted(files):
        if filename.lower().endswith('.xml'):
          index.setdefault(os.path.splitext(filename)[0],
                           os.path.join(folder, filename))
  return index


def parse_boxes(xml_path, synset_to_label, image_size):
  """Normalized boxes of one annotation file.

  Args:
    xml_path: PASCAL-VOC style file (<size><width/><height/></size>,
      <object><name>synset</name><bndbox><xmin/>...</bndbox></object>).
    synset_to_label: {synset: label}.
    image_size: (height, width) of the decoded image, used when the file
      gives no size.

  Returns:
    ([(xmin, ymin, xmax, ymax, label)] clipped to [0, 1], number of boxes
    dropped: unknown synset or empty after clipping).
  """
  try:
    root = ElementTree.parse(xml_path).getroot()
  except ElementTree.ParseError as e:
    raise conversion.Skip('%s: bad bounding-box file (%s)' % (xml_path, e))
  height, width = image_size

  def number(node, tag, default=None):
    text = node.findtext(tag) if node is not None else None
    try:
      return float(text)
    except (TypeError, ValueError):
      return default

  size = root.find('size')
  width = number(size, 'width', 0) or width
  height = number(size, 'height', 0) or height
  boxes, dropped = [], 0
  for obj in root.iter('object'):
    label = synset_to_label.get((obj.findtext('name') or '').strip())
    box = obj.find('bndbox')
    coords = [number(box, t) for t in ('xmin', 'ymin', 'xmax', 'ymax')]
    if label is None or None in coords:
      dropped += 1
      continue
    xmin, xmax = (min(max(c / width, 0.0), 1.0) for c in coords[0::2])
    ymin, ymax = (min(max(c / height, 0.0), 1.0) for c in coords[1::2])
    if xmin >= xmax or ymin >= ymax:
      dropped += 1
      continue
    boxes.append((xmin, ymin, xmax, ymax, label))
  return boxes, dropped


def _make_record(item, synset_to_label, human_names, box_index):
  path, synset = item
  data, image_format, height, width = image_folder.encode_image_file(path)
  boxes = []
  xml_path = box_index.get(os.path.splitext(os.path.basename(path))[0])
  if xml_path:
    boxes, _ = parse_boxes(xml_path, synset_to_label, (height, width))
  extra = dataset_utils.box_features([box[:4] for box in boxes],
                                     [box[4] for box in boxes])
  extra['image/class/synset'] = dataset_utils.bytes_feature(synset)
  return dataset_utils.image_to_tfexample(
      data, image_format, height, width, synset_to_label[synset],
      class_text=human_names[synset], filename=os.path.basename(path),
      extra_features=extra).SerializeToString()


def convert(dataset_dir, source=None, overwrite=False, seed=0, log=print,
            num_threads=4, num_shards=None):
  """Converts a local ILSVRC-2012 tree (see module docstring).

  Args:
    dataset_dir: output folder.
    source: the ILSVRC-2012 folder; required.
    overwrite: replace a complete earlier conversion.
    seed: seed of the training-image shuffle.
    log: function taking a message line.
    num_threads: threads reading images.
    num_shards: record files of every split (an int), or {split: files};
      NUM_SHARDS by default.

  Returns:
    {'splits': {split: records}, 'skipped': [reasons], 'missing': [splits]}.
  """

  def plan(source, resources):
    del resources  # Nothing to close.
    synsets = read_synsets(source)
    synset_to_label = {s: i + 1 for i, s in enumerate(synsets)}
    human_names = read_human_names(source, synsets)
    box_index = index_boxes(source)
    log('%d synsets, %d bounding-box files' % (len(synsets), len(box_index)))
    splits, missing = {}, []
    for split in sorted(SPLITS_TO_SIZES):
      items = list_split(source, split, synset_to_label)
      if items:
        splits[split] = items
      else:
        missing.append((split, '%s has no %s images' % (source, split)))
    if not splits:
      raise conversion.ConversionError('%s holds no train or validation '
                                       'images. %s' % (source, WHERE_TO_GET))
    if 'train' in splits:
      random.Random(seed).shuffle(splits['train'])
    labels = labels_to_names(synsets, human_names)
    return conversion.Plan(
        splits, functools.partial(
            _make_record, synset_to_label=synset_to_label,
            human_names=human_names, box_index=box_index),
        labels, FILE_PATTERN,
        num_shards=conversion.shards_per_split(num_shards, NUM_SHARDS),
        missing=missing, num_threads=num_threads,
        describe=lambda item: os.path.basename(item[0]),
        spec={'seed': seed, 'bounding_box_files': len(box_index)})

  return conversion.run(NAME, dataset_dir, plan, source=source,
                        overwrite=overwrite, log=log,
                        where_to_get=WHERE_TO_GET)


def decoder():
  """Items 'image', 'label', 'label_text', 'object/bbox' ([N, 4] as ymin,
  xmin, ymax, xmax) and 'object/label' ([N])."""
  box_keys, box_handlers = dataset_utils.object_box_features()
  return dataset_utils.image_decoder(
      channels=3,
      extra_keys_to_features={
          'image/format': tf.FixedLenFeature((), tf.string,
                                             default_value='jpeg'),
          'image/class/text': tf.FixedLenFeature((), tf.string,
                                                 default_value=''),
          **box_keys},
      extra_items_to_handlers={
          'label_text': slim.tfexample_decoder.Tensor('image/class/text'),
          **box_handlers})


def get_split(split_name, dataset_dir, file_pattern=None, reader=None):
  """The slim Dataset of split 'train' or 'validation' (1001 classes)."""
  return conversion.get_split(
      NAME, split_name, dataset_dir, file_pattern or FILE_PATTERN,
      SPLITS_TO_SIZES, NUM_CLASSES, reader=reader, decoder=decoder(),
      items_to_descriptions={
          'image': 'A color image of varying height and width.',
          'label': 'The label id of the image, integer between 0 and 1000',
          'label_text': 'The text of the label.',
          'object/bbox': 'A list of bounding boxes.',
          'object/label': 'A list of labels, one per each object.'})
