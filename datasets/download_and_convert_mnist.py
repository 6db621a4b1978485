"""research/slim's `datasets.download_and_convert_mnist`: `run(dataset_dir)`.

The work is mnist.convert's: it downloads the four idx files into
dataset_dir/downloads (MD5-checked, kept for a later --overwrite), writes
mnist_train.tfrecord, mnist_test.tfrecord, labels.txt and
dataset_spec.json, and leaves a complete earlier conversion as it is.
"""

from slimvision.datasets import mnist


# research/slim's run(dataset_dir): our converter, whose other arguments
# have defaults.
run = mnist.convert
