"""The dataset registry, class counts and conversion by name."""

import glob
import inspect
import os
import shutil
import types

import numpy as np
from PIL import Image
import pytest

from imagenet_test import make_tree
from slimvision.core.errors import UserError
from slimvision.datasets import dataset_factory
from slimvision.datasets import dataset_utils

BUILT_IN = ['cifar10', 'flowers', 'imagenet', 'mnist', 'satellite', 'shapes',
            'visualwakewords']
QUIET = dict(log=lambda *_: None)


def _user_module(calls=None):
  """A user's dataset module reading the shapes records under its own name."""
  module = types.ModuleType('mydata')

  def get_split(split_name, dataset_dir, file_pattern=None, reader=None):
    return dataset_utils.make_split(
        split_name, dataset_dir, file_pattern or 'shapes_%s_*.tfrecord',
        {'train': 48, 'validation': 12}, 6, 'mydata', reader=reader)

  def convert(dataset_dir, source=None, overwrite=False, seed=0, log=print,
              num_shards=None):
    calls.append(dict(dataset_dir=dataset_dir, source=source,
                      overwrite=overwrite, seed=seed, num_shards=num_shards))
    return {'splits': {}, 'skipped': [], 'missing': []}

  module.get_split = get_split
  if calls is not None:
    module.convert = convert
  return module


def _image_folder(root, classes=('a', 'b'), per_class=2):
  """root/<class>/<i>.png, 4x4 grey images."""
  for c, name in enumerate(classes):
    os.makedirs(os.path.join(root, name))
    for i in range(per_class):
      Image.fromarray(np.full((4, 4), 40 * c + i, np.uint8)).save(
          os.path.join(root, name, '%d.png' % i))
  return root


def test_built_ins_are_registered_lazily():
  assert dataset_factory.dataset_names() == BUILT_IN
  assert list(dataset_factory.datasets_map) == BUILT_IN
  assert dataset_factory.datasets_map['mnist'].__name__ == (
      'slimvision.datasets.mnist')


def test_registered_user_module_is_served_then_gone(shapes_dir, monkeypatch):
  monkeypatch.setitem(dataset_factory.datasets_map, 'mydata', _user_module())
  assert 'mydata' in dataset_factory.dataset_names()
  dataset = dataset_factory.get_dataset('mydata', 'validation', shapes_dir)
  assert dataset.num_samples == 12 and dataset.num_classes == 6
  assert dataset.data_sources == os.path.join(shapes_dir,
                                              'shapes_validation_*.tfrecord')
  assert dataset_factory.get_dataset('mydata', 'train',
                                     shapes_dir).num_samples == 48
  assert dataset_factory.num_classes('mydata', shapes_dir) == 6
  with pytest.raises(dataset_utils.DatasetError,
                     match="Unknown split 'test' for dataset mydata"):
    dataset_factory.get_dataset('mydata', 'test', shapes_dir)

  del dataset_factory.datasets_map['mydata']
  assert 'mydata' not in dataset_factory.dataset_names()
  with pytest.raises(dataset_utils.DatasetError,
                     match="Unknown dataset name 'mydata'.*holds 'shapes'"):
    dataset_factory.get_dataset('mydata', 'train', shapes_dir)


def test_num_classes_without_data_is_the_modules_count():
  assert dataset_factory.num_classes('imagenet') == 1001
  assert dataset_factory.num_classes('cifar10') == 10
  assert dataset_factory.num_classes('visualwakewords') == 2


def test_num_classes_from_a_converted_dir(shapes_dir, tmp_path):
  assert dataset_factory.num_classes('shapes', shapes_dir) == 6
  # A 3-synset ImageNet conversion has 4 classes (with background), not
  # 1001; with only the validation split, that split is read.
  source = str(tmp_path / 'src')
  make_tree(source)
  shutil.rmtree(os.path.join(source, 'train'))
  out = str(tmp_path / 'imagenet')
  dataset_factory.convert('imagenet', out, source=source, **QUIET)
  assert sorted(dataset_utils.read_spec(out)['splits']) == ['validation']
  assert dataset_factory.num_classes('imagenet', out) == 4


def test_num_classes_unknown_without_data(monkeypatch):
  module = _user_module()
  monkeypatch.setitem(dataset_factory.datasets_map, 'mydata', module)
  with pytest.raises(UserError, match=r"dataset 'mydata' is not known "
                     r"without its data: pass --dataset_dir=FOLDER .* or "
                     r"--num_classes$"):
    dataset_factory.num_classes('mydata')
  with pytest.raises(UserError, match=r"'nope' .*--num_classes \(registered "
                     r"datasets: cifar10, .*visualwakewords\)"):
    dataset_factory.num_classes('nope')


def test_convert_unknown_name_without_source_names_the_built_ins(tmp_path):
  with pytest.raises(UserError) as error:
    dataset_factory.convert('nope', str(tmp_path / 'out'))
  assert str(error.value) == (
      "Unknown --dataset_name 'nope': built-in datasets are %s; for your own "
      "image folder pass --source_dir=FOLDER" % ', '.join(BUILT_IN))
  with pytest.raises(UserError, match='--dataset_name is required; built-in: '
                     'cifar10, flowers'):
    dataset_factory.convert('', str(tmp_path / 'out'))
  with pytest.raises(UserError, match='--dataset_dir is required'):
    dataset_factory.convert('mnist', '')
  assert not os.path.exists(str(tmp_path / 'out'))


def test_convert_an_image_folder_under_a_new_name(tmp_path):
  source = _image_folder(str(tmp_path / 'src'), per_class=4)
  out = str(tmp_path / 'out')
  summary = dataset_factory.convert(
      'mine', out, source=source, validation_fraction=0.25, num_shards=1,
      small_object_area_threshold=0.5, **QUIET)  # Not an image-folder option.
  assert summary['splits'] == {'train': 6, 'validation': 2}
  assert sorted(os.path.basename(p) for p in glob.glob(
      os.path.join(out, '*.tfrecord'))) == [
          'mine_train_00000-of-00001.tfrecord',
          'mine_validation_00000-of-00001.tfrecord']
  assert dataset_utils.read_label_file(out) == {0: 'a', 1: 'b'}
  assert dataset_factory.get_dataset('mine', 'validation',
                                     out).num_samples == 2
  assert dataset_factory.num_classes('mine', out) == 2


def test_convert_registered_datasets_with_their_options(tmp_path):
  source = _image_folder(str(tmp_path / 'src'))
  out = str(tmp_path / 'satellite')
  dataset_factory.convert('satellite', out, source=source, num_shards=1,
                          validation_fraction=0.5, **QUIET)
  assert dataset_utils.read_spec(out)['name'] == 'satellite'
  assert len(glob.glob(os.path.join(out, 'satellite_train_*-of-00001.'
                                    'tfrecord'))) == 1
  with pytest.raises(UserError, match='--source_dir is required for '
                     'satellite'):
    dataset_factory.convert('satellite', str(tmp_path / 'none'), **QUIET)
  shapes_out = str(tmp_path / 'shapes')
  summary = dataset_factory.convert('shapes', shapes_out, train_per_class=1,
                                    validation_per_class=1, num_shards=9,
                                    **QUIET)
  assert summary['splits'] == {'train': 6, 'validation': 6}
  # An int num_shards is every split's file count for ImageNet too.
  tree = str(tmp_path / 'ILSVRC2012')
  make_tree(tree)
  imagenet_out = str(tmp_path / 'imagenet')
  dataset_factory.convert('imagenet', imagenet_out, source=tree, num_shards=1,
                          validation_fraction=0.5, **QUIET)
  assert sorted(os.path.basename(p) for p in glob.glob(
      os.path.join(imagenet_out, '*-of-*'))) == [
          'train-00000-of-00001', 'validation-00000-of-00001']


def test_convert_passes_a_user_converter_only_its_options(tmp_path,
                                                          monkeypatch):
  calls = []
  monkeypatch.setitem(dataset_factory.datasets_map, 'mydata',
                      _user_module(calls))
  dataset_factory.convert('mydata', str(tmp_path), source='SRC', seed=3,
                          overwrite=True, num_shards=2,
                          validation_fraction=0.5)
  assert calls == [dict(dataset_dir=str(tmp_path), source='SRC',
                        overwrite=True, seed=3, num_shards=2)]
  monkeypatch.setitem(dataset_factory.datasets_map, 'readonly',
                      _user_module())
  with pytest.raises(UserError, match="'readonly' has no convert function"):
    dataset_factory.convert('readonly', str(tmp_path), source='SRC')


@pytest.mark.parametrize('name', BUILT_IN)
def test_built_in_modules_have_the_common_functions(name):
  module = dataset_factory.datasets_map[name]
  split_parameters = inspect.signature(module.get_split).parameters
  assert [(p.name, p.default) for p in split_parameters.values()] == [
      ('split_name', inspect.Parameter.empty),
      ('dataset_dir', inspect.Parameter.empty),
      ('file_pattern', None), ('reader', None)]
  parameters = list(inspect.signature(module.convert).parameters.values())
  assert [(p.name, p.default) for p in parameters[:5]] == [
      ('dataset_dir', inspect.Parameter.empty), ('source', None),
      ('overwrite', False), ('seed', 0), ('log', print)]
  for option in parameters[5:]:  # Converter-specific, all optional.
    assert option.default is not inspect.Parameter.empty, option
    assert option.kind in (option.POSITIONAL_OR_KEYWORD, option.KEYWORD_ONLY)


def test_a_lost_or_foreign_record_file_is_named(shapes_dir, tmp_path):
  import dataset_records  # pylint: disable=g-import-not-at-top
  copy = dataset_records.copy_dataset(shapes_dir, str(tmp_path / 'shapes'))
  os.remove(os.path.join(copy, 'shapes_validation_00001-of-00002.tfrecord'))
  with pytest.raises(dataset_utils.DatasetError) as error:
    dataset_factory.get_dataset('shapes', 'validation', copy)
  assert str(error.value) == (
      "split 'validation' of shapes lacks 1 of its 2 record files: "
      'shapes_validation_00001-of-00002.tfrecord; restore them or re-run the '
      'conversion with --overwrite')
  assert dataset_factory.get_dataset('shapes', 'train', copy).num_samples
  # A shard of an earlier conversion into 3 files, left beside these 2.
  shutil.copy(os.path.join(copy, 'shapes_train_00000-of-00002.tfrecord'),
              os.path.join(copy, 'shapes_train_00002-of-00003.tfrecord'))
  with pytest.raises(dataset_utils.DatasetError,
                     match="split 'train' of shapes mixes record files of 2 "
                     'and 3 shards'):
    dataset_factory.get_dataset('shapes', 'train', copy)


@pytest.mark.parametrize('field, value, message', [
    ('num_classes', 'six', '"num_classes" must be a positive integer, got '
     "'six'"),
    ('num_classes', 0, '"num_classes" must be a positive integer, got 0'),
    ('splits', {'train': -1}, '"splits" must give each split a count of '
     "examples, got -1 for 'train'"),
    ('splits', [], '"splits" must map each split to its example count'),
    ('file_pattern', 'x.tfrecord', '"file_pattern" must be a file name '
     'pattern with one %s'),
])
def test_a_spec_with_a_wrong_field_is_one_line(shapes_dir, tmp_path, field,
                                               value, message):
  import json  # pylint: disable=g-import-not-at-top
  import dataset_records  # pylint: disable=g-import-not-at-top
  copy = dataset_records.copy_dataset(shapes_dir, str(tmp_path / 'shapes'))
  path = os.path.join(copy, dataset_utils.SPEC_FILENAME)
  with open(path) as f:
    spec = json.load(f)
  spec[field] = value
  with open(path, 'w') as f:
    json.dump(spec, f)
  with pytest.raises(dataset_utils.DatasetError) as error:
    dataset_factory.get_dataset('shapes', 'train', copy)
  assert str(error.value).startswith('%s: %s' % (path, message))
  assert str(error.value).endswith('; re-run the conversion with --overwrite')


# research/slim's module constants (its values), which code reads directly.
@pytest.mark.parametrize('name, pattern, sizes, classes', [
    ('cifar10', 'cifar10_%s.tfrecord', {'train': 50000, 'test': 10000}, 10),
    ('flowers', 'flowers_%s_*.tfrecord', {'train': 3320, 'validation': 350},
     5),
    ('mnist', 'mnist_%s.tfrecord', {'train': 60000, 'test': 10000}, 10),
    ('imagenet', '%s-*', {'train': 1281167, 'validation': 50000}, 1001),
    ('visualwakewords', '%s.record-*', {'train': 82783, 'val': 40504}, 2),
])
def test_research_slims_module_constants(name, pattern, sizes, classes):
  import importlib  # pylint: disable=g-import-not-at-top
  module = importlib.import_module('slimvision.datasets.' + name)
  assert (module._FILE_PATTERN, module._SPLITS_TO_SIZES,
          module._NUM_CLASSES) == (pattern, sizes, classes)
