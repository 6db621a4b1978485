"""Any folder of class sub-folders as a dataset: converter and reader.

Accepted source layouts:
  SOURCE/train/<class>/*.jpg and SOURCE/validation/<class>/*.jpg  (splits kept)
  SOURCE/<class>/*.jpg       (split by --validation_fraction with --seed)

Output in DATASET_DIR: `NAME_<split>_NNNNN-of-NNNNN.tfrecord` shards with the
standard keys, `labels.txt` and `dataset_spec.json`. Any converted folder
can then be read with `get_split()` below, which takes the split sizes and
class count from the spec, so no dataset module has to be written for it.
`converter(name)` gives `convert()` the signature every dataset module's
converter has, for datasets that are image folders (satellite, shapes, and
the folders dataset_factory.convert() is given under a new name).
"""

import functools
import io
import os
import random

from PIL import Image

from slimvision.datasets import conversion
from slimvision.datasets import dataset_utils

DEFAULT_FILE_PATTERN = '%s_%%s_*.tfrecord'  # % dataset name
SPLIT_NAMES = ('train', 'validation')
# Formats TensorFlow's decode_image reads as they are; others become PNG.
_KEPT_FORMATS = {'JPEG': b'jpeg', 'PNG': b'png'}
# The file names taken as images (case-insensitive), here and by
# classify_image.py given a folder.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.gif', '.tif', '.tiff',
                     '.webp', '.ppm', '.pgm')


# A source folder that cannot be converted: the converters' common error.
ConversionError = conversion.ConversionError


def _list_images(class_dir):
  return sorted(os.path.join(class_dir, f) for f in os.listdir(class_dir)
                if f.lower().endswith(IMAGE_EXTENSIONS) and
                not f.startswith('.'))


def _class_dirs(folder):
  return sorted(d for d in os.listdir(folder)
                if os.path.isdir(os.path.join(folder, d)) and
                not d.startswith('.'))


def held_out_count(count, validation_fraction):
  """How many of a class's `count` images go to validation: the fraction,
  rounded, but at least one (and never all) when the fraction is above 0
  and the class has two or more, so small classes are validated too (5
  images at 0.1 would round to none)."""
  if validation_fraction <= 0 or count < 2:
    return 0
  return min(count - 1, max(1, int(round(count * validation_fraction))))


def discover(source_dir, validation_fraction=0.1, seed=0):
  """Finds the classes and the images of each split.

  Args:
    source_dir: folder in one of the layouts in the module docstring.
    validation_fraction: share of each class held out for validation when
      the source has no split folders, in [0, 1).
    seed: seed of the split assignment.

  Returns:
    (class_names sorted, {split: [(path, label), ...]}).

  Raises:
    ConversionError: missing folder, no class folders or no images.
  """
  if not os.path.isdir(source_dir):
    raise ConversionError('--source_dir %s is not a folder' % source_dir)
  top = _class_dirs(source_dir)
  if 'train' in top:
    class_names = _class_dirs(os.path.join(source_dir, 'train'))
    split_dirs = {s: os.path.join(source_dir, s) for s in SPLIT_NAMES
                  if s in top}
    for split, folder in split_dirs.items():
      unknown = sorted(set(_class_dirs(folder)) - set(class_names))
      if unknown:
        raise ConversionError('%s has classes that train/ lacks: %s' %
                              (folder, ', '.join(unknown)))
    splits = {split: [(path, label)
                      for label, name in enumerate(class_names)
                      if os.path.isdir(os.path.join(folder, name))
                      for path in _list_images(os.path.join(folder, name))]
              for split, folder in split_dirs.items()}
  else:
    if not 0 <= validation_fraction < 1:
      raise ConversionError('--validation_fraction must be in [0, 1), got %s'
                            % validation_fraction)
    class_names = top
    rng = random.Random(seed)
    splits = {'train': [], 'validation': []}
    for label, name in enumerate(class_names):
      paths = _list_images(os.path.join(source_dir, name))
      rng.shuffle(paths)
      held_out = held_out_count(len(paths), validation_fraction)
      splits['validation'] += [(p, label) for p in paths[:held_out]]
      splits['train'] += [(p, label) for p in paths[held_out:]]
  if not class_names:
    raise ConversionError(
        '%s has no class sub-folders; expected SOURCE/<class>/*.jpg or '
        'SOURCE/train/<class>/*.jpg' % source_dir)
  if not any(splits.values()):
    raise ConversionError('%s has no images (%s) in its class folders %s' %
                          (source_dir, ', '.join(IMAGE_EXTENSIONS),
                           ', '.join(class_names)))
  return class_names, {s: v for s, v in splits.items() if v}


def encode_image_file(path):
  """Reads and checks one image file.

  Returns:
    (encoded bytes, format b'jpeg'|b'png', height, width). JPEG and PNG
    files in a mode TensorFlow decodes (L, RGB, RGBA for PNG) are kept
    byte for byte; anything else is re-encoded as PNG.

  Raises:
    ValueError / OSError: if the file is not a readable image.
  """
  with open(path, 'rb') as f:
    data = f.read()
  with Image.open(io.BytesIO(data)) as image:
    image.load()  # Decodes fully, so a truncated file fails here.
    width, height = image.size
    kept = _KEPT_FORMATS.get(image.format)
    decodable = image.mode in ('L', 'RGB') or (kept == b'png' and
                                               image.mode == 'RGBA')
    if kept and decodable:
      return data, kept, height, width
    if image.mode in ('1', 'L'):
      target_mode = 'L'
    elif 'A' in image.getbands() or 'transparency' in image.info:
      target_mode = 'RGBA'
    else:
      target_mode = 'RGB'
    converted = image.convert(target_mode)
    buffer = io.BytesIO()
    converted.save(buffer, format='PNG')
    return buffer.getvalue(), b'png', height, width


def image_record(item, class_names):
  """The serialized Example of an image file.

  Args:
    item: (path, label).
    class_names: class name of each label, stored as `image/class/text`.

  Raises:
    OSError / ValueError: not a readable image (the item is skipped).
  """
  path, label = item
  data, image_format, height, width = encode_image_file(path)
  return dataset_utils.image_to_tfexample(
      data, image_format, height, width, label, class_text=class_names[label],
      filename=os.path.basename(path)).SerializeToString()


def convert(dataset_name, source_dir, dataset_dir, validation_fraction=0.1,
            seed=0, num_shards=5, overwrite=False, num_threads=4, log=print):
  """Converts an image folder into TFRecord shards, labels.txt and a spec.

  Args:
    dataset_name: prefix of the record files (`NAME_<split>_*.tfrecord`).
    source_dir: the image folder (see module docstring).
    dataset_dir: output folder, created if needed.
    validation_fraction: held-out share when the source has no split folders.
    seed: seed for the split assignment and the record order.
    num_shards: record files per split (fewer if a split is smaller).
    overwrite: replace an existing complete conversion.
    num_threads: threads reading and checking images.
    log: function taking a message line.

  Returns:
    The summary dict: {'splits': {split: count}, 'skipped': [reasons],
    'missing': []}.

  Raises:
    ConversionError: unusable source, or every image of a split unreadable.
  """

  def plan(source, resources):
    del resources  # Nothing to close.
    class_names, splits = discover(source, validation_fraction, seed)
    for items in splits.values():
      random.Random(seed).shuffle(items)
    labels_seen = {label for items in splits.values() for _, label in items}
    empty = [name for label, name in enumerate(class_names)
             if label not in labels_seen]

    def report(name, dataset_dir, sizes, skipped, missing, log):
      del missing  # An image folder's splits are what it holds.
      log('Wrote %s to %s: %s; %d classes; %d image(s) skipped' % (
          name, dataset_dir,
          ', '.join('%s %d' % kv for kv in sorted(sizes.items())),
          len(class_names), len(skipped)))
      for problem in skipped:
        log('  skipped %s' % problem)
      if empty:
        log('  warning: no images in class folder(s) %s: the model gets an '
            'output for each that no example trains; add images or remove '
            'the folder' % ', '.join(empty))

    return conversion.Plan(
        splits, functools.partial(image_record, class_names=class_names),
        dict(enumerate(class_names)), DEFAULT_FILE_PATTERN % dataset_name,
        num_shards=num_shards, num_threads=num_threads,
        describe=lambda item: item[0], require_records=True, report=report)

  return conversion.run(dataset_name, dataset_dir, plan, source=source_dir,
                        overwrite=overwrite, log=log)


def converter(dataset_name):
  """`convert()` for image folders named `dataset_name`, with the signature
  every dataset module's `convert` has (see dataset_factory.convert)."""

  def convert_folder(dataset_dir, source=None, overwrite=False, seed=0,
                     log=print, validation_fraction=0.1, num_shards=5,
                     num_threads=4):
    """Converts the image folder `source` (see image_folder.convert)."""
    return convert(dataset_name, source, dataset_dir,
                   validation_fraction=validation_fraction, seed=seed,
                   num_shards=num_shards, overwrite=overwrite,
                   num_threads=num_threads, log=log)

  return convert_folder


def get_split(split_name, dataset_dir, file_pattern=None, reader=None):
  """The slim Dataset of a split of any folder converted by `convert()`.

  Raises:
    dataset_utils.DatasetError: no spec (not converted), unknown split, or
      missing record files.
  """
  spec = dataset_utils.require_spec(dataset_dir)
  return dataset_utils.make_split(
      split_name, dataset_dir, file_pattern or spec['file_pattern'],
      spec['splits'], spec['num_classes'], spec.get('name', dataset_dir),
      reader=reader)
