"""research/slim's datasets.download_and_convert_* modules: run(dataset_dir)
downloads (from a local site here) and converts through our converters."""

import hashlib
import os

import pytest

import cifar10_test
import flowers_test
import local_site
import mnist_test
import visualwakewords_test
from dataset_records import decode_split
from slimvision.datasets import cifar10
from slimvision.datasets import conversion
from slimvision.datasets import dataset_utils
from slimvision.datasets import download
from slimvision.datasets import download_and_convert_cifar10
from slimvision.datasets import download_and_convert_flowers
from slimvision.datasets import download_and_convert_mnist
from slimvision.datasets import download_and_convert_visualwakewords
from slimvision.datasets import flowers
from slimvision.datasets import mnist


@pytest.fixture
def site(monkeypatch):
  monkeypatch.setattr(download, '_RETRY_DELAY_SCALE', 0.0)
  served = local_site.LocalSite()
  yield served
  served.stop()


def _serve(site, path, name):
  """Serves the file `path` as /name; returns (its address, its bytes)."""
  with open(path, 'rb') as f:
    data = f.read()
  site.files['/' + name] = data
  return site.url + '/' + name, data


def test_cifar10_run_downloads_converts_then_keeps_the_conversion(
    tmp_path, site, monkeypatch):
  archive = str(tmp_path / 'cifar-10-python.tar.gz')
  arrays = cifar10_test.make_archive(archive)
  url, data = _serve(site, archive, 'cifar-10-python.tar.gz')
  monkeypatch.setattr(cifar10, 'URL', url)
  monkeypatch.setattr(cifar10, 'ARCHIVE_MD5', hashlib.md5(data).hexdigest())
  out = str(tmp_path / 'cifar10')
  result = download_and_convert_cifar10.run(out)
  assert result['splits'] == {'train': 5 * cifar10_test.TRAIN_PER_BATCH,
                              'test': cifar10_test.TEST_COUNT}
  _, records = decode_split(lambda: cifar10.get_split('test', out))
  assert [r['label'] for r in records] == arrays['test'][1].tolist()
  assert dataset_utils.read_label_file(out) == dict(
      enumerate(cifar10.CLASS_NAMES))
  # As research/slim's run(): files already there are kept, not re-made.
  again = download_and_convert_cifar10.run(out)
  assert again['existing'] and again['splits'] == result['splits']
  assert site.hits == ['/cifar-10-python.tar.gz']


def test_flowers_run_holds_out_the_official_share(tmp_path, site,
                                                  monkeypatch):
  archive = str(tmp_path / 'flower_photos.tgz')
  flowers_test.make_archive(archive)
  url, data = _serve(site, archive, 'flower_photos.tgz')
  monkeypatch.setattr(flowers, 'URL', url)
  monkeypatch.setattr(flowers, 'ARCHIVE_SIZE', len(data))
  out = str(tmp_path / 'flowers')
  result = download_and_convert_flowers.run(out)
  total = len(flowers_test.CLASSES) * flowers_test.PER_CLASS
  held_out = flowers.num_validation(total + 1)  # One photo is unreadable.
  assert result['splits'] == {'train': total - held_out,
                              'validation': held_out}
  assert len(result['skipped']) == 1
  assert dataset_utils.read_label_file(out) == dict(
      enumerate(flowers_test.CLASSES))
  assert site.hits == ['/flower_photos.tgz']


def test_mnist_run_downloads_the_four_files(tmp_path, site, monkeypatch):
  source = str(tmp_path / 'served')
  arrays = mnist_test.make_source(source)
  md5 = {}
  for name in sorted(os.listdir(source)):
    _, data = _serve(site, os.path.join(source, name), 'mnist/' + name)
    md5[name] = hashlib.md5(data).hexdigest()
  monkeypatch.setattr(mnist, 'MIRRORS', (site.url + '/mnist/',))
  monkeypatch.setattr(mnist, 'MD5', md5)
  out = str(tmp_path / 'mnist')
  result = download_and_convert_mnist.run(out)
  assert result['splits'] == {'train': 5, 'test': 4}
  _, records = decode_split(lambda: mnist.get_split('train', out))
  assert [r['label'] for r in records] == arrays['train'][1].tolist()
  assert sorted(site.hits) == sorted('/mnist/' + n for n in md5)


def test_visualwakewords_run_reads_coco_under_the_dataset_dir(tmp_path):
  out = str(tmp_path / 'vww')
  visualwakewords_test.make_coco(os.path.join(out, 'coco_dataset'))
  result = download_and_convert_visualwakewords.run(out, 0.005, 'person')
  assert result['splits'] == {'train': 2, 'val': 5}
  assert result['positives'] == {'train': 1, 'val': 2}
  assert dataset_utils.read_label_file(out) == {0: 'background', 1: 'person'}
  _, records = decode_split(lambda: visualwakewords_test.visualwakewords
                            .get_split('val', out), ('label',))
  assert [r['label'] for r in records] == visualwakewords_test.VAL_LABELS


def test_visualwakewords_run_passes_its_threshold_and_class(tmp_path):
  out = str(tmp_path / 'vww')
  visualwakewords_test.make_coco(os.path.join(out, 'coco'))
  result = download_and_convert_visualwakewords.run(
      out, small_object_area_threshold=0.5, foreground_class_of_interest='dog',
      coco_dirname='coco')
  # Images 1 and 3 hold a dog, but image 1's is 80 of its 800 pixels.
  assert result['positives']['val'] == 1
  assert dataset_utils.read_label_file(out) == {0: 'background', 1: 'dog'}


def test_visualwakewords_run_without_coco_says_where_to_put_it(tmp_path):
  out = str(tmp_path / 'vww')
  with pytest.raises(conversion.ConversionError) as raised:
    download_and_convert_visualwakewords.run(out, 0.005, 'person')
  message = str(raised.value)
  assert os.path.join(out, 'coco_dataset') in message
  assert 'not downloaded here' in message and 'cocodataset.org' in message
  assert not os.path.exists(out)


@pytest.mark.parametrize('module', [
    download_and_convert_cifar10, download_and_convert_flowers,
    download_and_convert_mnist, download_and_convert_visualwakewords])
@pytest.mark.parametrize('dataset_dir', [None, ''])
def test_run_without_a_dataset_dir_is_one_clear_error(module, dataset_dir,
                                                      site):
  with pytest.raises(conversion.ConversionError,
                     match='No dataset_dir .* the folder to write the records'):
    module.run(dataset_dir)
  assert site.hits == []  # Nothing was downloaded.


def test_flowers_image_reader_decodes_in_a_session():
  # research/slim's ImageReader, which other converters import.
  import io  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  pixels = np.random.RandomState(0).randint(0, 256, (12, 20, 3)).astype(
      np.uint8)
  encoded = {}
  for kind in ('PNG', 'JPEG'):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=kind)
    encoded[kind] = buffer.getvalue()
  with tf.Graph().as_default():
    reader = download_and_convert_flowers.ImageReader()
    with tf.Session('') as sess:
      assert reader.read_image_dims(sess, encoded['JPEG']) == (12, 20)
      np.testing.assert_array_equal(reader.decode_jpeg(sess, encoded['PNG']),
                                    pixels)
      jpeg = reader.decode_jpeg(sess, encoded['JPEG'])
      assert jpeg.dtype == np.uint8 and jpeg.shape == (12, 20, 3)
      # The pixels of research/slim's decoder, tf.image.decode_jpeg.
      np.testing.assert_array_equal(jpeg, sess.run(
          tf.image.decode_jpeg(encoded['JPEG'], channels=3)))
      with pytest.raises(tf.errors.InvalidArgumentError):
        reader.decode_jpeg(sess, b'not an image')
