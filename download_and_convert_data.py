r"""Converts a dataset into sharded TFRecord files, labels.txt and a spec.

Usage:
  # The embedded demo dataset, drawn locally:
  python download_and_convert_data.py --dataset_name=shapes \
      --dataset_dir=/tmp/shapes

  # Public datasets: downloaded (cifar10, flowers, mnist) or converted from a
  # local copy with --source_dir (required for imagenet, visualwakewords):
  python download_and_convert_data.py --dataset_name=mnist \
      --dataset_dir=/tmp/mnist --source_dir=/data/mnist
  python download_and_convert_data.py --dataset_name=imagenet \
      --dataset_dir=/tmp/imagenet --source_dir=/data/ILSVRC2012

  # Any folder of class sub-folders (SOURCE/<class>/*.jpg, or
  # SOURCE/train/<class>/ and SOURCE/validation/<class>/):
  python download_and_convert_data.py --dataset_name=satellite \
      --dataset_dir=/tmp/satellite --source_dir=/data/satellite
"""

if __name__ == '__main__' and not __package__:
  import _checkout  # noqa: F401  (run from a source checkout)

from absl import flags

from slimvision.core.errors import UserError, run_main
from slimvision.datasets import cifar10
from slimvision.datasets import flowers
from slimvision.datasets import image_folder
from slimvision.datasets import imagenet
from slimvision.datasets import mnist
from slimvision.datasets import shapes
from slimvision.datasets import visualwakewords

FLAGS = flags.FLAGS

flags.DEFINE_string('dataset_name', None,
                    'The dataset to convert: shapes, or any name for an '
                    'image folder given with --source_dir.')
flags.DEFINE_string('dataset_dir', None,
                    'The directory where the output TFRecords and labels '
                    'are written.')
flags.DEFINE_string('source_dir', None,
                    'A local folder (or archive) to convert instead of '
                    'downloading. Required for image-folder datasets, '
                    'imagenet and visualwakewords.')
flags.DEFINE_alias('source', 'source_dir')
flags.DEFINE_float('validation_fraction', 0.1,
                   'Share of each class held out for validation when the '
                   'source folder has no train/validation split.')
flags.DEFINE_integer('seed', 0, 'Seed for shuffling and split assignment.')
flags.DEFINE_integer('num_shards', 5, 'Record files per split (image folders).')
flags.DEFINE_bool('overwrite', False,
                  'Convert again even if --dataset_dir holds a complete '
                  'conversion.')
flags.DEFINE_float('small_object_area_threshold',
                   visualwakewords.DEFAULT_THRESHOLD,
                   'visualwakewords: smallest foreground object area, as a '
                   'share of the image area, that labels an image 1.')
flags.DEFINE_string('foreground_class_of_interest',
                    visualwakewords.DEFAULT_FOREGROUND,
                    'visualwakewords: the COCO category of label 1.')


def _convert_shapes():
  return shapes.download_and_convert(FLAGS.dataset_dir, seed=FLAGS.seed,
                                     overwrite=FLAGS.overwrite)


def _public(module, **kwargs):
  """A converter of a public dataset module, reading the common flags."""
  def convert():
    return module.convert(FLAGS.dataset_dir, source=FLAGS.source_dir,
                          overwrite=FLAGS.overwrite, seed=FLAGS.seed, **kwargs)
  return convert


def _convert_visualwakewords():
  return visualwakewords.convert(
      FLAGS.dataset_dir, source=FLAGS.source_dir, overwrite=FLAGS.overwrite,
      seed=FLAGS.seed,
      small_object_area_threshold=FLAGS.small_object_area_threshold,
      foreground_class_of_interest=FLAGS.foreground_class_of_interest)


# name: converter taking no arguments (it reads the flags).
_CONVERTERS = {
    'cifar10': _public(cifar10),
    'flowers': _public(flowers),
    'imagenet': _public(imagenet),
    'mnist': _public(mnist),
    'shapes': _convert_shapes,
    'visualwakewords': _convert_visualwakewords,
}


def main(_):
  if not FLAGS.dataset_name:
    raise UserError('--dataset_name is required; built-in: %s, or any name '
                    'with --source_dir=FOLDER' % ', '.join(sorted(_CONVERTERS)))
  if not FLAGS.dataset_dir:
    raise UserError('--dataset_dir is required: where to write the records')
  if FLAGS.dataset_name in _CONVERTERS:
    _CONVERTERS[FLAGS.dataset_name]()
  elif FLAGS.source_dir:
    image_folder.convert(FLAGS.dataset_name, FLAGS.source_dir,
                         FLAGS.dataset_dir,
                         validation_fraction=FLAGS.validation_fraction,
                         seed=FLAGS.seed, num_shards=FLAGS.num_shards,
                         overwrite=FLAGS.overwrite)
  else:
    raise UserError('Unknown --dataset_name %r: built-in datasets are %s; '
                    'for your own image folder pass --source_dir=FOLDER' %
                    (FLAGS.dataset_name, ', '.join(sorted(_CONVERTERS))))


def run():
  """Console entry point."""
  run_main(main)


if __name__ == '__main__':
  run()
