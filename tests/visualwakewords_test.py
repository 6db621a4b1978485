"""Visual Wake Words from a miniature COCO 2014 tree."""

import glob
import json
import os

import numpy as np
import pytest
from PIL import Image

from conftest import error_line, run_cli
from dataset_records import decode_split
from slimvision.datasets import conversion
from slimvision.datasets import dataset_factory
from slimvision.datasets import dataset_utils
from slimvision.datasets import visualwakewords

W, H = 40, 20  # Image area 800; the 0.005 threshold is 4 pixels.
CATEGORIES = [{'id': 1, 'name': 'person', 'supercategory': 'person'},
              {'id': 18, 'name': 'dog', 'supercategory': 'animal'}]


def _annotation(ann_id, image_id, category, bbox, area):
  return {'id': ann_id, 'image_id': image_id, 'category_id': category,
          'bbox': bbox, 'area': area, 'iscrowd': 0, 'segmentation': []}


# image id: annotations. Expected labels for the default threshold.
VAL = {
    1: [_annotation(1, 1, 1, [4, 2, 10, 8], 60.0),        # big person -> 1
        _annotation(2, 1, 18, [20, 5, 10, 10], 80.0),     # dog: no box kept
        _annotation(3, 1, 1, [30, 10, 2, 1], 2.0)],       # tiny person
    2: [_annotation(4, 2, 1, [0, 0, 2, 1], 2.0)],         # only tiny -> 0
    3: [_annotation(5, 3, 18, [0, 0, 40, 20], 800.0)],    # dog only -> 0
    4: [_annotation(6, 4, 1, [30, 5, 20, 10], 150.0)],    # out of image: 1,
    5: [],                                                # no box kept
}
VAL_LABELS = [1, 0, 0, 1, 0]


def make_coco(root, splits=('train', 'val')):
  for split in splits:
    folder = os.path.join(root, split + '2014')
    os.makedirs(folder)
    annotations = VAL if split == 'val' else {
        7: [_annotation(7, 7, 1, [0, 0, 40, 20], 700.0)], 8: []}
    images = []
    for image_id in sorted(annotations):
      name = 'COCO_%s2014_%012d.jpg' % (split, image_id)
      pixels = np.random.RandomState(image_id).randint(0, 256, (H, W, 3))
      Image.fromarray(pixels.astype(np.uint8)).save(os.path.join(folder, name))
      images.append({'id': image_id, 'file_name': name, 'height': H,
                     'width': W})
    os.makedirs(os.path.join(root, 'annotations'), exist_ok=True)
    with open(os.path.join(root, 'annotations',
                           'instances_%s2014.json' % split), 'w') as f:
      json.dump({'images': images, 'categories': CATEGORIES,
                 'annotations': [a for v in annotations.values() for a in v]},
                f)


def test_labels_and_boxes(tmp_path):
  source = str(tmp_path / 'coco')
  make_coco(source)
  out = str(tmp_path / 'out')
  result = visualwakewords.convert(out, source=source, log=lambda m: None,
                                   num_threads=2)
  assert result['splits'] == {'train': 2, 'val': 5}
  assert result['positives'] == {'train': 1, 'val': 2}
  assert dataset_utils.read_label_file(out) == {0: 'background', 1: 'person'}
  assert len(glob.glob(os.path.join(out, 'val.record-*-of-00005'))) == 5
  items = ('image', 'label', 'object/bbox', 'object/label')
  dataset, records = decode_split(
      lambda: dataset_factory.get_dataset('visualwakewords', 'val', out),
      items)
  assert dataset.num_samples == 5 and dataset.num_classes == 2
  assert [r['label'] for r in records] == VAL_LABELS
  assert records[0]['image'].shape == (H, W, 3)
  # [ymin, xmin, ymax, xmax] of the big person of image 1 only.
  np.testing.assert_allclose(records[0]['object/bbox'],
                             [[2 / H, 4 / W, 10 / H, 14 / W]], atol=1e-6)
  assert records[0]['object/label'].tolist() == [1]
  for record in records[1:]:
    assert record['object/bbox'].shape == (0, 4)
  _, train = decode_split(
      lambda: visualwakewords.get_split('train', out), ('label',))
  assert [r['label'] for r in train] == [1, 0]


def test_threshold_and_foreground_flags(tmp_path):
  source = str(tmp_path / 'coco')
  make_coco(source, splits=('val',))
  out = str(tmp_path / 'out')
  result = visualwakewords.convert(out, source=source, log=lambda m: None,
                                   small_object_area_threshold=0.0,
                                   foreground_class_of_interest='dog')
  assert result['splits'] == {'val': 5} and result['missing'] == ['train']
  assert dataset_utils.read_label_file(out) == {0: 'background', 1: 'dog'}
  _, records = decode_split(
      lambda: visualwakewords.get_split('val', out), ('label', 'object/bbox'))
  assert [r['label'] for r in records] == [1, 0, 1, 0, 0]
  np.testing.assert_allclose(records[2]['object/bbox'], [[0, 0, 1, 1]])
  with pytest.raises(dataset_utils.DatasetError,
                     match='available splits: val'):
    visualwakewords.get_split('train', out)
  result = visualwakewords.convert(out, source=source, log=lambda m: None,
                                   overwrite=True,
                                   small_object_area_threshold=0.0)
  assert sum(r['label'] for r in decode_split(
      lambda: visualwakewords.get_split('val', out), ('label',))[1]) == 3


def test_missing_image_is_skipped_and_counted(tmp_path):
  source = str(tmp_path / 'coco')
  make_coco(source, splits=('val',))
  os.remove(os.path.join(source, 'val2014', 'COCO_val2014_000000000003.jpg'))
  result = visualwakewords.convert(str(tmp_path / 'out'), source=source,
                                   log=lambda m: None)
  assert result['splits'] == {'val': 4}
  assert len(result['skipped']) == 1
  assert 'COCO_val2014_000000000003.jpg' in result['skipped'][0]


@pytest.mark.parametrize('kwargs, message', [
    (dict(source=None), '--source_dir is required.*cocodataset.org'),
    (dict(foreground_class_of_interest='unicorn'),
     "Unknown --foreground_class_of_interest 'unicorn'.*dog, person"),
    (dict(small_object_area_threshold=1.5), 'must be in'),
])
def test_clear_errors(tmp_path, kwargs, message):
  source = str(tmp_path / 'coco')
  make_coco(source, splits=('val',))
  kwargs = dict(dict(source=source, log=lambda m: None), **kwargs)
  with pytest.raises(conversion.ConversionError, match=message):
    visualwakewords.convert(str(tmp_path / 'out'), **kwargs)


@pytest.mark.parametrize('folder, flags', [
    ('coco_dataset', []), ('coco', ['--coco_dirname=coco'])])
def test_command_reads_coco_under_the_dataset_dir(tmp_path, folder, flags):
  # research/slim's layout: COCO in DATASET_DIR/<--coco_dirname>.
  out = str(tmp_path / 'vww')
  make_coco(os.path.join(out, folder))
  result = run_cli('download_and_convert_data.py',
                   '--dataset_name=visualwakewords', '--dataset_dir=' + out,
                   *flags)
  assert result.returncode == 0, result.stderr
  assert dataset_utils.read_spec(out)['splits'] == {'train': 2, 'val': 5}
  # The source stays where it was, beside the records.
  assert os.path.isdir(os.path.join(out, folder, 'val2014'))


def test_command_without_coco_names_both_ways_to_give_it(tmp_path):
  result = run_cli('download_and_convert_data.py',
                   '--dataset_name=visualwakewords',
                   '--dataset_dir=' + str(tmp_path / 'vww'))
  assert result.returncode == 2
  line = error_line(result)
  assert '--source_dir' in line and 'coco_dataset (--coco_dirname)' in line
