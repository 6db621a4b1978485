"""research/slim's `datasets.download_and_convert_cifar10`: `run(dataset_dir)`.

The work is cifar10.convert's: it downloads cifar-10-python.tar.gz into
dataset_dir/downloads (MD5-checked, kept for a later --overwrite), writes
cifar10_train.tfrecord, cifar10_test.tfrecord, labels.txt and
dataset_spec.json, and leaves a complete earlier conversion as it is.
"""

from slimvision.datasets import cifar10


# research/slim's run(dataset_dir): our converter, whose other arguments
# have defaults.
run = cifar10.convert
