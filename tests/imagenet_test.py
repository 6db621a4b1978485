"""ImageNet conversion from a miniature ILSVRC-2012 tree with boxes."""

import glob
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from dataset_records import decode_split
import local_site
from slimvision.core import files
from slimvision.datasets import conversion
from slimvision.datasets import dataset_factory
from slimvision.datasets import dataset_utils
from slimvision.datasets import download
from slimvision.datasets import imagenet

SYNSETS = ('n01440764', 'n01443537', 'n01484850')
NAMES = ('tench, Tinca tinca', 'goldfish, Carassius auratus',
         'great white shark, white shark')
WIDTH, HEIGHT = 20, 10


def _jpeg(path, seed):
  pixels = np.random.RandomState(seed).randint(0, 256, (HEIGHT, WIDTH, 3))
  Image.fromarray(pixels.astype(np.uint8)).save(path, format='JPEG')


def _box_xml(path, objects, size=(WIDTH, HEIGHT)):
  parts = ['<annotation><size><width>%d</width><height>%d</height>'
           '<depth>3</depth></size>' % size]
  for name, (xmin, ymin, xmax, ymax) in objects:
    parts.append('<object><name>%s</name><bndbox><xmin>%s</xmin><ymin>%s'
                 '</ymin><xmax>%s</xmax><ymax>%s</ymax></bndbox></object>' %
                 (name, xmin, ymin, xmax, ymax))
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w') as f:
    f.write(''.join(parts) + '</annotation>')


def make_tree(root, validation_labels=(2, 0, 1)):
  """train/<synset>/ (2 images each, one corrupt extra), validation/ flat
  with its synset list, synset and metadata lists, box XMLs."""
  os.makedirs(root)
  with open(os.path.join(root, 'imagenet_lsvrc_2015_synsets.txt'), 'w') as f:
    f.write('\n'.join(reversed(SYNSETS)) + '\n')  # Sorted by the converter.
  with open(os.path.join(root, 'imagenet_metadata.txt'), 'w') as f:
    f.write('n00004475\torganism, being\n')
    f.write(''.join('%s\t%s\n' % kv for kv in zip(SYNSETS, NAMES)))
  for label, synset in enumerate(SYNSETS):
    folder = os.path.join(root, 'train', synset)
    os.makedirs(folder)
    for i in range(2):
      _jpeg(os.path.join(folder, '%s_%d.JPEG' % (synset, i)), label * 10 + i)
  with open(os.path.join(root, 'train', SYNSETS[1], 'bad.JPEG'), 'wb') as f:
    f.write(b'\xff\xd8 not a jpeg')
  os.makedirs(os.path.join(root, 'validation'))
  for i, label in enumerate(validation_labels):
    _jpeg(os.path.join(root, 'validation', 'ILSVRC2012_val_%08d.JPEG' %
                       (i + 1)), 100 + i)
  with open(os.path.join(root, 'imagenet_2012_validation_synset_labels.txt'),
            'w') as f:
    f.write(''.join(SYNSETS[l] + '\n' for l in validation_labels))
  boxes = os.path.join(root, 'bounding_boxes')
  # A training box, clipped at the right edge.
  _box_xml(os.path.join(boxes, SYNSETS[0], SYNSETS[0] + '_1.xml'),
           [(SYNSETS[0], (2, 1, 25, 9))])
  # Validation: two boxes of different synsets and one unknown synset.
  _box_xml(os.path.join(boxes, 'val', 'ILSVRC2012_val_00000001.xml'),
           [(SYNSETS[2], (0, 0, 10, 5)), (SYNSETS[1], (5, 2.5, 15, 10)),
            ('n99999999', (1, 1, 2, 2))])


def test_converts_labels_names_and_boxes(tmp_path):
  source = str(tmp_path / 'ILSVRC2012')
  make_tree(source)
  out = str(tmp_path / 'out')
  result = imagenet.convert(out, source=source, log=lambda m: None,
                            num_threads=2)
  assert result['splits'] == {'train': 6, 'validation': 3}
  assert len(result['skipped']) == 1 and 'bad.JPEG' in result['skipped'][0]
  labels = dataset_utils.read_label_file(out)
  assert labels == {0: 'background', 1: NAMES[0], 2: NAMES[1], 3: NAMES[2]}
  assert len(glob.glob(os.path.join(out, 'train-*-of-00007'))) == 7
  assert len(glob.glob(os.path.join(out, 'validation-*-of-00003'))) == 3
  items = ('image', 'label', 'label_text', 'object/bbox', 'object/label')
  dataset, train = decode_split(
      lambda: dataset_factory.get_dataset('imagenet', 'train', out), items)
  assert dataset.num_samples == 6 and dataset.num_classes == 4
  assert sorted(r['label'] for r in train) == [1, 1, 2, 2, 3, 3]
  for record in train:
    assert record['image'].shape == (HEIGHT, WIDTH, 3)
    assert record['label_text'].decode() == NAMES[record['label'] - 1]
  boxed = [r for r in train if len(r['object/bbox'])]
  assert len(boxed) == 1
  np.testing.assert_allclose(boxed[0]['object/bbox'],
                             [[1 / 10, 2 / 20, 9 / 10, 1.0]], atol=1e-6)
  assert boxed[0]['object/label'].tolist() == [1]
  _, validation = decode_split(
      lambda: imagenet.get_split('validation', out), items)
  assert [r['label'] for r in validation] == [3, 1, 2]
  np.testing.assert_allclose(validation[0]['object/bbox'],
                             [[0, 0, 0.5, 0.5], [0.25, 0.25, 1.0, 0.75]],
                             atol=1e-6)
  assert validation[0]['object/label'].tolist() == [3, 2]
  for record in validation[1:]:
    assert record['object/bbox'].shape == (0, 4)


def test_deterministic_train_order_per_seed(tmp_path):
  source = str(tmp_path / 'src')
  make_tree(source)

  def labels(out, seed):
    imagenet.convert(str(tmp_path / out), source=source, seed=seed,
                     log=lambda m: None, num_shards={'train': 1})
    _, records = decode_split(
        lambda: imagenet.get_split('train', str(tmp_path / out)), ('label',))
    return [r['label'] for r in records]

  assert labels('a', 1) == labels('b', 1)
  orders = {tuple(labels('s%d' % s, s)) for s in range(2, 6)}
  assert len(orders) > 1


def test_validation_only(tmp_path):
  source = str(tmp_path / 'src')
  make_tree(source)
  shutil.rmtree(os.path.join(source, 'train'))
  out = str(tmp_path / 'out')
  result = imagenet.convert(out, source=source, log=lambda m: None)
  assert result['splits'] == {'validation': 3}
  assert result['missing'] == ['train']
  with pytest.raises(dataset_utils.DatasetError,
                     match='available splits: validation'):
    imagenet.get_split('train', out)


def test_validation_in_class_folders(tmp_path):
  source = str(tmp_path / 'src')
  make_tree(source)
  os.remove(os.path.join(source, 'imagenet_2012_validation_synset_labels.txt'))
  val = os.path.join(source, 'validation')
  for i, label in enumerate((2, 0, 1)):
    os.makedirs(os.path.join(val, SYNSETS[label]))
    name = 'ILSVRC2012_val_%08d.JPEG' % (i + 1)
    os.rename(os.path.join(val, name), os.path.join(val, SYNSETS[label], name))
  out = str(tmp_path / 'out')
  imagenet.convert(out, source=source, log=lambda m: None)
  _, records = decode_split(lambda: imagenet.get_split('validation', out),
                            ('label', 'object/label'))
  assert sorted(r['label'] for r in records) == [1, 2, 3]
  assert [r['object/label'].tolist() for r in records
          if r['label'] == 3] == [[3, 2]]


@pytest.mark.parametrize('problem, message', [
    ('nosource', '--source_dir is required for imagenet.*image-net.org'),
    ('labels', 'lists 2 labels but .* holds 3 images'),
    ('unknown', 'not in the synset list: n00000001'),
])
def test_clear_errors(tmp_path, problem, message):
  source = str(tmp_path / 'src')
  make_tree(source)
  if problem == 'labels':
    with open(os.path.join(
        source, 'imagenet_2012_validation_synset_labels.txt'), 'w') as f:
      f.write('%s\n%s\n' % (SYNSETS[0], SYNSETS[1]))
  elif problem == 'unknown':
    os.makedirs(os.path.join(source, 'train', 'n00000001'))
  with pytest.raises(conversion.ConversionError, match=message):
    imagenet.convert(str(tmp_path / 'out'),
                     source=None if problem == 'nosource' else source,
                     log=lambda m: None)


# ----------------------------------------------------------------------------
# create_readable_names_for_imagenet_labels(): research/slim's 1001 names.

# 1000 synsets in the real files' format: the list (sorted, as the real one
# is), and a metadata file naming them and others, tab-separated.
ALL_SYNSETS = ['n%08d' % (1440764 + 7 * i) for i in range(1000)]


def _name_files(synsets=ALL_SYNSETS, named=ALL_SYNSETS):
  synset_list = ''.join(s + '\n' for s in synsets).encode()
  metadata = ''.join('%s\tname of %s, %d\n' % (s, s, i)
                     for i, s in enumerate(['n00004475'] + list(named)))
  return {'/' + imagenet.SYNSET_FILES[0]: synset_list,
          '/' + imagenet.METADATA_FILES[0]: metadata.encode()}


@pytest.fixture
def name_site(monkeypatch, tmp_path):
  """The name files served from 127.0.0.1; the cache under tmp_path."""
  monkeypatch.setattr(download, '_RETRY_DELAY_SCALE', 0.0)
  site = local_site.LocalSite()
  monkeypatch.setattr(imagenet, 'LABEL_NAMES_URL', site.url + '/')
  monkeypatch.setattr(imagenet, 'LABEL_NAMES_MIRROR', site.url + '/old/')
  monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / 'cache'))
  yield site
  site.stop()


def _quiet_names(**kwargs):
  return imagenet.create_readable_names_for_imagenet_labels(
      log=lambda line: None, **kwargs)


def test_readable_names_are_downloaded_once_then_read_from_the_cache(
    name_site, tmp_path):
  name_site.files.update(_name_files())
  lines = []
  names = imagenet.create_readable_names_for_imagenet_labels(log=lines.append)
  assert len(lines) == 2 and all(l.startswith('Downloaded ') for l in lines)
  assert len(names) == imagenet.NUM_CLASSES == 1001
  assert names[0] == 'background'
  assert names[1] == 'name of %s, 1' % ALL_SYNSETS[0]
  assert names[1000] == 'name of %s, 1000' % ALL_SYNSETS[-1]
  assert sorted(name_site.hits) == sorted(_name_files())
  # The second call reads the cache, and says nothing.
  assert imagenet.create_readable_names_for_imagenet_labels(
      log=lines.append) == names
  assert len(name_site.hits) == 2 and len(lines) == 2
  assert sorted(os.listdir(str(tmp_path / 'cache' / 'imagenet'))) == [
      'imagenet_lsvrc_2015_synsets.txt', 'imagenet_metadata.txt']


def test_readable_names_match_the_converters_labels(tmp_path, name_site):
  source = str(tmp_path / 'src')
  make_tree(source)
  # The tree's 3 synsets, and 997 more that sort after them.
  more = ['n2%07d' % i for i in range(997)]
  with open(os.path.join(source, 'imagenet_lsvrc_2015_synsets.txt'), 'a') as f:
    f.write(''.join(s + '\n' for s in more))
  with open(os.path.join(source, 'imagenet_metadata.txt'), 'a') as f:
    f.write(''.join('%s\t%s name\n' % (s, s) for s in more))
  names = _quiet_names(source_dir=source)
  assert [names[i] for i in range(4)] == ['background'] + list(NAMES)
  assert names[1000] == 'n20000996 name'
  # The labels a conversion of the tree gives its records.
  imagenet.convert(str(tmp_path / 'out'), source=source, log=lambda m: None,
                   num_threads=1, num_shards=1)
  assert dataset_utils.read_label_file(str(tmp_path / 'out')) == names
  assert name_site.hits == []  # A source folder is read, not downloaded.


@pytest.mark.parametrize('served, message', [
    (_name_files(synsets=ALL_SYNSETS[:999]), 'lists 999 synsets, expected '
     '1000'),
    (_name_files(named=ALL_SYNSETS[1:]), '1 synsets have no name in .*'
     'imagenet_metadata.txt .first: n01440764'),
])
def test_bad_name_files_are_refused_and_not_kept(name_site, tmp_path, served,
                                                 message):
  name_site.files.update(served)
  with pytest.raises(dataset_utils.DatasetError, match=message):
    _quiet_names()
  name_site.files.update(_name_files())
  assert len(_quiet_names()) == 1001  # Downloaded again, good this time.
  assert len(name_site.hits) == 4


def test_readable_names_unreachable_is_one_clear_error(name_site):
  with pytest.raises(dataset_utils.DatasetError,
                     match=r'ImageNet label names: could not download '
                     r'imagenet_lsvrc_2015_synsets.txt: .*Not Found.*as source_dir'):
    _quiet_names()
  # Each of 3 attempts at the address and at its mirror.
  assert name_site.hits == ['/imagenet_lsvrc_2015_synsets.txt'] * 3 + [
      '/old/imagenet_lsvrc_2015_synsets.txt'] * 3
