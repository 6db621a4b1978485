"""The real satellite image set (../shared/data/satellite) end to end."""

import glob
import os

import numpy as np
import tensorflow.compat.v1 as tf

from conftest import shared_path
from slimvision.datasets import dataset_factory
from slimvision.datasets import dataset_utils
from slimvision.datasets import image_folder

CLASSES = ['glacier', 'rock', 'urban', 'water', 'wetland', 'wood']


def test_satellite_converts_to_4800_and_1200_records(tmp_path):
  source = shared_path('data', 'satellite')
  out = str(tmp_path)
  summary = image_folder.convert('satellite', source, out,
                                 log=lambda *_: None)
  assert summary['splits'] == {'train': 4800, 'validation': 1200}
  assert not summary['skipped']
  assert dataset_utils.read_label_file(out) == dict(enumerate(CLASSES))
  for split, per_class in (('train', 800), ('validation', 200)):
    dataset = dataset_factory.get_dataset('satellite', split, out)
    assert dataset.num_samples == 6 * per_class and dataset.num_classes == 6
    labels, texts = [], set()
    for path in glob.glob(os.path.join(out, 'satellite_%s_*' % split)):
      for record in tf.io.tf_record_iterator(path):
        feature = tf.train.Example.FromString(record).features.feature
        label = feature['image/class/label'].int64_list.value[0]
        labels.append(label)
        text = feature['image/class/text'].bytes_list.value[0].decode()
        assert text == CLASSES[label]  # Labels follow labels.txt.
        texts.add(text)
    np.testing.assert_array_equal(np.bincount(labels), [per_class] * 6)
