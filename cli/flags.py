"""Command-line flags shared by the train, eval and export scripts.

TF-Slim's scripts each defined the same dataset and model flags; here they
are defined once. Defaults that differ between scripts (split, batch size)
are arguments.
"""

from absl import flags

FLAGS = flags.FLAGS


def define_dataset_flags(split_name, batch_size):
  """--dataset_name, --dataset_split_name, --dataset_dir, --labels_offset,
  --batch_size, --num_preprocessing_threads."""
  flags.DEFINE_string('dataset_name', 'imagenet',
                      'The name of the dataset to load.')
  flags.DEFINE_string('dataset_split_name', split_name,
                      'The name of the split to use.')
  flags.DEFINE_string('dataset_dir', None,
                      'The directory where the dataset files are stored.')
  flags.DEFINE_integer(
      'labels_offset', 0,
      'An offset for the labels in the dataset. This flag is primarily used '
      'to evaluate the VGG and ResNet architectures which do not use a '
      'background class for the ImageNet dataset.')
  flags.DEFINE_integer('batch_size', batch_size,
                       'The number of samples in each batch.')
  flags.DEFINE_integer('num_preprocessing_threads', 4,
                       'The number of threads used to create the batches.')


def define_model_flags(image_size_flag):
  """--model_name, --preprocessing_name, --use_grayscale and the image size
  flag (`train_image_size` or `eval_image_size`)."""
  flags.DEFINE_string('model_name', 'inception_v3',
                      'The name of the architecture to use.')
  flags.DEFINE_string(
      'preprocessing_name', None,
      'The name of the preprocessing to use. If left as `None`, then the '
      'model_name flag is used.')
  flags.DEFINE_integer(image_size_flag, None,
                       'Image size in pixels; default: the network\'s own.')
  flags.DEFINE_bool('use_grayscale', False,
                    'Whether to convert input images to grayscale.')
