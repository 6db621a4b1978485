"""`--checkpoint_path=zoo:<model_name>`: the published model-zoo checkpoints.

Everything is served from a local HTTP server ($SLIMVISION_ZOO_URL) into a
cache under tmp_path ($SLIMVISION_CACHE): no test touches the network. The
served mobilenet_v1_025 tarball is laid out as the published one (the
checkpoint's files and the frozen graph side by side at the top).
"""

import io
import os
import shutil
import tarfile

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from conftest import error_line, run_cli
import local_site
from slimvision.core import files
from slimvision.core.errors import UserError
from slimvision.datasets import download
from slimvision.engines import checkpoints
from slimvision.engines import fine_tuning
from slimvision.engines import zoo
from slimvision.nets import nets_factory

MOBILENET = '/mobilenet_v1_2018_08_02/mobilenet_v1_0.25_224.tgz'
VGG = '/vgg_16_2016_08_28.tar.gz'
LOGITS = 'MobilenetV1/Logits'


def _checkpoint_values(path):
  reader = tf.train.load_checkpoint(path)
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()}


def _tarball(folder, names):
  """A .tgz of the files `names` of `folder`, at its top as './NAME'."""
  buffer = io.BytesIO()
  with tarfile.open(fileobj=buffer, mode='w:gz') as tar:
    for name in names:
      tar.add(os.path.join(folder, name), arcname='./' + name)
  return buffer.getvalue()


@pytest.fixture(scope='module')
def mobilenet_tarball(tmp_path_factory):
  """(tarball bytes, {name: value}) of a mobilenet_v1_025 checkpoint with
  1001 classes, as the model zoo publishes it. Every variable is random,
  the batch-norm statistics included, so a value that was not restored
  cannot match by chance."""
  folder = str(tmp_path_factory.mktemp('published'))
  prefix = os.path.join(folder, 'mobilenet_v1_0.25_224.ckpt')
  rng = np.random.RandomState(7)
  with tf.Graph().as_default(), tf.Session() as session:
    network_fn = nets_factory.get_network_fn('mobilenet_v1_025', 1001,
                                             is_training=True)
    # The variables do not depend on the input size.
    network_fn(tf.zeros([1, 32, 32, 3]))
    for var in tf.global_variables():
      value = rng.normal(size=var.shape.as_list()).astype(np.float32)
      if 'moving_variance' in var.op.name:
        value = np.abs(value) + 0.5
      var.load(value, session)
    tf.train.Saver().save(session, prefix, write_meta_graph=False)
  for extra in ('mobilenet_v1_0.25_224_frozen.pb',
                'mobilenet_v1_0.25_224_info.txt'):
    with open(os.path.join(folder, extra), 'w') as f:
      f.write('not a checkpoint\n')
  return _tarball(folder, sorted(os.listdir(folder))), _checkpoint_values(
      prefix)


@pytest.fixture
def site(monkeypatch, tmp_path):
  monkeypatch.setattr(download, '_RETRY_DELAY_SCALE', 0.0)
  server = local_site.LocalSite()
  monkeypatch.setenv(zoo.URL_ENV, server.url)
  monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / 'cache'))
  yield server
  server.stop()


def _quiet_resolve(spec):
  return zoo.resolve(spec, log=lambda message: None,
                     stream=io.StringIO())


def _cached_files(tmp_path):
  return sorted(os.path.relpath(os.path.join(parent, name),
                                str(tmp_path / 'cache'))
                for parent, _, names in os.walk(str(tmp_path / 'cache'))
                for name in names)


def test_fine_tuning_from_zoo_restores_every_variable_outside_the_logits(
    shapes_dir, site, mobilenet_tarball, tmp_path):
  tarball, served = mobilenet_tarball
  site.files[MOBILENET] = tarball
  train_dir = str(tmp_path / 'train')
  # Only the new logits train, and the frozen layers' batch-norm statistics
  # stay as restored: every other value must come back bit-exactly. (The
  # lenet preprocessing is the quickest to build; the restore is the point.)
  result = run_cli(
      'train_image_classifier.py', '--dataset_name=shapes',
      '--dataset_dir=' + shapes_dir, '--model_name=mobilenet_v1_025',
      '--train_image_size=32', '--preprocessing_name=lenet',
      '--batch_size=2', '--optimizer=sgd',
      '--learning_rate=0.1', '--max_number_of_steps=1',
      '--checkpoint_path=zoo:mobilenet_v1_025',
      '--checkpoint_exclude_scopes=' + LOGITS,
      '--trainable_scopes=' + LOGITS, '--freeze_batch_norm_statistics',
      '--train_dir=' + train_dir)
  assert result.returncode == 0, result.stderr[-3000:]
  assert site.hits == [MOBILENET]
  extracted = str(tmp_path / 'cache' / 'zoo' / 'mobilenet_v1_2018_08_02' /
                  'mobilenet_v1_0.25_224')
  assert 'Fine-tuning from %s/mobilenet_v1_0.25_224.ckpt' % extracted in (
      result.stderr)
  first = _checkpoint_values(os.path.join(train_dir, 'model.ckpt-0'))
  final = _checkpoint_values(tf.train.latest_checkpoint(train_dir))
  body = sorted(n for n in served if not n.startswith(LOGITS))
  assert len(body) == 135  # 27 conv layers: weights and 4 batch-norm values.
  # Every network variable outside the logits was in the checkpoint.
  assert sorted(n for n in final if n.startswith('MobilenetV1/') and
                not n.startswith(LOGITS)) == body
  for name in body:
    np.testing.assert_array_equal(first[name], served[name], err_msg=name)
    np.testing.assert_array_equal(final[name], served[name], err_msg=name)
  head = LOGITS + '/Conv2d_1c_1x1/weights'
  assert served[head].shape == (1, 1, 256, 1001)
  assert final[head].shape == (1, 1, 256, 6)
  assert not np.array_equal(final[head], first[head])  # It trained.


def test_the_1001_class_logits_must_be_excluded_for_other_classes(
    site, mobilenet_tarball):
  site.files[MOBILENET] = mobilenet_tarball[0]
  with tf.Graph().as_default():
    nets_factory.get_network_fn('mobilenet_v1_025', 6)(
        tf.zeros([1, 32, 32, 3]))
    with pytest.raises(UserError, match=r'Variable MobilenetV1/Logits/'
                       r'Conv2d_1c_1x1/weights has shape \[1, 1, 256, 6\] '
                       r'in the model but \[1, 1, 256, 1001\] in checkpoint '
                       r'.*--checkpoint_exclude_scopes'):
      fine_tuning.fine_tune_init_fn('zoo:mobilenet_v1_025')
    assert fine_tuning.fine_tune_init_fn('zoo:mobilenet_v1_025', LOGITS)


def test_second_resolve_uses_the_cache_without_the_network(
    site, mobilenet_tarball, tmp_path):
  site.files[MOBILENET] = mobilenet_tarball[0]
  path = checkpoints.resolve('zoo:mobilenet_v1_025')
  assert path == str(tmp_path / 'cache' / 'zoo' / 'mobilenet_v1_2018_08_02' /
                     'mobilenet_v1_0.25_224' / 'mobilenet_v1_0.25_224.ckpt')
  assert sorted(_checkpoint_values(path)) == sorted(mobilenet_tarball[1])
  site.stop()
  assert _quiet_resolve('zoo:mobilenet_v1_025') == path
  # The extracted folder gone, the kept tarball is checked against the
  # SHA-256 recorded at the download and extracted again.
  sha_file = str(tmp_path / 'cache' / 'zoo' / MOBILENET[1:]) + '.sha256'
  with open(sha_file) as f:
    assert f.read().split()[0] == download.file_digest(
        sha_file[:-len('.sha256')], 'sha256')
  shutil.rmtree(os.path.dirname(path))
  # What an extraction cut by a killed process left is cleared away.
  stale = os.path.dirname(path) + '.part-99999999'
  os.makedirs(stale)
  open(os.path.join(stale, 'mobilenet_v1_0.25_224.ckpt.index'), 'w').close()
  assert _quiet_resolve('zoo:mobilenet_v1_025') == path
  assert site.hits == [MOBILENET]
  assert not any('.part-' in f for f in _cached_files(tmp_path))
  assert sorted(_checkpoint_values(path)) == sorted(mobilenet_tarball[1])


def test_a_tampered_cached_tarball_is_not_extracted(site, mobilenet_tarball,
                                                    tmp_path):
  site.files[MOBILENET] = mobilenet_tarball[0]
  path = _quiet_resolve('zoo:mobilenet_v1_025')
  shutil.rmtree(os.path.dirname(path))
  tarball = str(tmp_path / 'cache' / 'zoo' / MOBILENET[1:])
  with open(tarball, 'r+b') as f:
    f.seek(100)
    f.write(b'tampered')
  site.stop()
  with pytest.raises(UserError) as raised:
    _quiet_resolve('zoo:mobilenet_v1_025')
  message = str(raised.value)
  assert message.startswith('--checkpoint_path zoo:mobilenet_v1_025: could '
                            'not download %s%s' % (site.url, MOBILENET))
  assert ('download http://download.tensorflow.org/models%s by hand, extract '
          'it and pass --checkpoint_path=<that folder>/'
          'mobilenet_v1_0.25_224.ckpt' % MOBILENET) in message
  assert not os.path.exists(os.path.dirname(path))
  assert not os.path.exists(tarball)


def test_a_republished_tarball_must_match_the_recorded_checksum(
    site, mobilenet_tarball, tmp_path):
  site.files[MOBILENET] = mobilenet_tarball[0]
  path = _quiet_resolve('zoo:mobilenet_v1_025')
  shutil.rmtree(os.path.dirname(path))
  tarball = str(tmp_path / 'cache' / 'zoo' / MOBILENET[1:])
  os.remove(tarball)
  site.files[MOBILENET] = mobilenet_tarball[0] + b'\0'
  with pytest.raises(UserError, match=r'3 attempts: corrupt download: '
                     r'SHA256 .*; if the published tarball has changed, '
                     r'delete .*mobilenet_v1_0\.25_224\.tgz\.sha256$'):
    _quiet_resolve('zoo:mobilenet_v1_025')
  assert not os.path.exists(tarball)
  os.remove(tarball + '.sha256')
  assert _quiet_resolve('zoo:mobilenet_v1_025') == path


def test_a_cut_download_leaves_nothing_in_the_cache(site, mobilenet_tarball,
                                                    tmp_path):
  site.files[MOBILENET] = mobilenet_tarball[0]
  site.cut.add(MOBILENET)
  with pytest.raises(UserError, match=r'could not download .*'
                     r'mobilenet_v1_0\.25_224\.tgz \(.*truncated.*by hand'):
    _quiet_resolve('zoo:mobilenet_v1_025')
  assert site.hits == [MOBILENET] * 3  # fetch() retries.
  assert _cached_files(tmp_path) == []


def test_a_truncated_tarball_is_refused_and_removed(site, mobilenet_tarball,
                                                    tmp_path):
  good = mobilenet_tarball[0]
  # Served whole as it is: the download succeeds, the extraction cannot.
  site.files[MOBILENET] = good[:len(good) // 2]
  with pytest.raises(UserError, match=r'zoo:mobilenet_v1_025: the tarball '
                     r'from .* is damaged .*run again to download it afresh'):
    _quiet_resolve('zoo:mobilenet_v1_025')
  assert _cached_files(tmp_path) == []
  site.files[MOBILENET] = good
  path = _quiet_resolve('zoo:mobilenet_v1_025')
  assert os.path.exists(path + '.index')


def test_a_tarball_without_a_checkpoint_is_refused(site, tmp_path):
  folder = tmp_path / 'published'
  folder.mkdir()
  (folder / 'README').write_text('no checkpoint here')
  site.files[VGG] = _tarball(str(folder), ['README'])
  with pytest.raises(UserError, match=r'damaged or not a model-zoo tarball '
                     r'\(.*holds no checkpoint'):
    _quiet_resolve('zoo:vgg_16')
  assert _cached_files(tmp_path) == []


def test_a_v1_single_file_checkpoint_is_found_and_read(site, tmp_path):
  folder = str(tmp_path / 'published')
  os.makedirs(folder)
  with tf.Graph().as_default(), tf.Session() as session:
    tf.get_variable('vgg_16/fc8/biases', initializer=tf.range(1000.0))
    session.run(tf.global_variables_initializer())
    tf.train.Saver(write_version=tf.train.SaverDef.V1).save(
        session, os.path.join(folder, 'vgg_16.ckpt'), write_meta_graph=False)
  site.files[VGG] = _tarball(folder, ['vgg_16.ckpt'])
  path = _quiet_resolve('zoo:vgg_16')
  assert path == str(tmp_path / 'cache' / 'zoo' / 'vgg_16_2016_08_28' /
                     'vgg_16.ckpt')
  assert checkpoints.variable_shapes(path) == {'vgg_16/fc8/biases': [1000]}
  # The same file given by hand, as the errors advise.
  assert checkpoints.resolve(path) == path
  with tf.Graph().as_default(), tf.Session() as session:
    var = tf.get_variable('vgg_16/fc8/biases', [1000])
    checkpoints.restorer(path, {'vgg_16/fc8/biases': var}).restore(session,
                                                                   path)
    np.testing.assert_array_equal(session.run(var), np.arange(1000.0))


def test_an_unknown_name_lists_the_valid_ones(tmp_path):
  with pytest.raises(UserError) as raised:
    checkpoints.resolve('zoo:mobilenet_v9')
  assert str(raised.value) == (
      '--checkpoint_path zoo:mobilenet_v9: no model-zoo checkpoint of that '
      'name; valid names: ' + ', '.join(sorted(zoo.MODELS)))
  assert 'mobilenet_v1_025, ' in str(raised.value)
  result = run_cli('export_inference_graph.py', '--model_name=lenet',
                   '--checkpoint_path=zoo:lenet',
                   '--output_file=' + str(tmp_path / 'lenet.pb'))
  assert result.returncode == 2
  assert error_line(result).startswith(
      'error: --checkpoint_path zoo:lenet: no model-zoo checkpoint of that '
      'name; valid names: inception_resnet_v2, ')


def test_the_table_names_only_our_networks_with_their_facts():
  assert zoo.MODELS
  for name, entry in zoo.MODELS.items():
    assert name in nets_factory.networks_map, name
    assert entry.num_classes in (1000, 1001)
    assert 40 < entry.top1 < 85
    assert entry.url.startswith(('http://download.tensorflow.org/models/',
                                 'https://storage.googleapis.com/'))
  # The Caffe conversions have no background class.
  assert zoo.MODELS['vgg_16'].num_classes == 1000
  assert zoo.MODELS['resnet_v1_50'].num_classes == 1000
  assert zoo.MODELS['resnet_v2_50'].num_classes == 1001
  table = zoo.format_table().splitlines()
  assert [line.split('`')[1] for line in table
          if line.startswith('| `zoo:')] == [
      'zoo:' + name for name in zoo.MODELS]
  assert '| `zoo:mobilenet_v1_025` | 49.8 | 1001 |' in table


def test_a_mirror_serves_every_tarball_at_its_path(monkeypatch):
  monkeypatch.setenv(zoo.URL_ENV, 'http://mirror.example/zoo/')
  assert zoo.download_url(zoo.MODELS['mobilenet_v1_025']) == (
      'http://mirror.example/zoo' + MOBILENET)
  assert zoo.download_url(zoo.MODELS['nasnet_mobile']) == (
      'http://mirror.example/zoo/nasnet-a_mobile_04_10_2017.tar.gz')
  assert zoo.download_url(zoo.MODELS['mobilenet_v2']) == (
      'http://mirror.example/zoo/mobilenet_v2/checkpoints/'
      'mobilenet_v2_1.0_224.tgz')
  monkeypatch.delenv(zoo.URL_ENV)
  assert zoo.download_url(zoo.MODELS['vgg_16']) == (
      'http://download.tensorflow.org/models' + VGG)


def _served_imagenet_names(monkeypatch, site):
  """ImageNet's name files served by `site`: synset n0..., named
  'name NNNN' (NNNN its label)."""
  from slimvision.datasets import imagenet  # pylint: disable=g-import-not-at-top
  synsets = ['n%08d' % (1000 + i) for i in range(1000)]
  site.files['/names/' + imagenet.SYNSET_FILES[0]] = ''.join(
      s + '\n' for s in synsets).encode()
  site.files['/names/' + imagenet.METADATA_FILES[0]] = ''.join(
      '%s\tname %04d\n' % (s, i + 1) for i, s in enumerate(synsets)).encode()
  monkeypatch.setattr(imagenet, 'LABEL_NAMES_URL', site.url + '/names/')


def _classify_zoo(tmp_path, *flags):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  image = str(tmp_path / 'image.png')
  Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(image)
  result = run_cli('classify_image.py', '--checkpoint_path=zoo:mobilenet_v1_025',
                   '--model_name=mobilenet_v1_025', '--image_size=32',
                   '--top_k=3', *flags, image)
  assert result.returncode == 0, result.stderr[-3000:]
  # Each line: '  <name> <probability>'; a name may hold spaces.
  rows = [line.rsplit(None, 1) for line in result.stdout.splitlines()[1:]]
  return [(name.strip(), float(p)) for name, p in rows], result


def test_classifying_with_a_zoo_checkpoint_names_imagenets_classes(
    site, mobilenet_tarball, monkeypatch, tmp_path):
  site.files[MOBILENET] = mobilenet_tarball[0]
  _served_imagenet_names(monkeypatch, site)
  # No --num_classes, no labels: the checkpoint's 1001 classes, named.
  named, _ = _classify_zoo(tmp_path, '--top_k=1001')
  assert len(named) == 1001
  assert sorted(name for name, _ in named) == ['background'] + [
      'name %04d' % label for label in range(1, 1001)]
  # A label file of the user's wins.
  labels = tmp_path / 'labels.txt'
  labels.write_text(''.join('%d:mine%d\n' % (i, i) for i in range(1001)))
  mine, _ = _classify_zoo(tmp_path, '--labels_file=' + str(labels))
  assert all(name.startswith('mine') for name, _ in mine)


def test_classifying_with_a_zoo_checkpoint_offline_numbers_the_classes(
    site, mobilenet_tarball, tmp_path):
  site.files[MOBILENET] = mobilenet_tarball[0]
  from slimvision.datasets import imagenet  # pylint: disable=g-import-not-at-top
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(imagenet, 'LABEL_NAMES_URL', site.url + '/none/')
    patch.setattr(imagenet, 'LABEL_NAMES_MIRROR', site.url + '/none/')
    top, result = _classify_zoo(tmp_path)
  assert all(name.isdigit() and 0 <= int(name) <= 1000 for name, _ in top)
  assert 'Classes are numbered: ImageNet label names: could not download' in (
      result.stderr)


def test_a_1000_class_zoo_checkpoint_skips_the_background_name(
    site, monkeypatch):
  from slimvision.engines import inference  # pylint: disable=g-import-not-at-top
  from slimvision.engines.config import ClassifyConfig  # pylint: disable=g-import-not-at-top
  _served_imagenet_names(monkeypatch, site)
  config, labels = inference._with_imagenet_names(ClassifyConfig(
      checkpoint_path='zoo:resnet_v1_50', model_name='resnet_v1_50',
      images=['image.png']))
  assert (config.num_classes, config.labels_offset) == (1000, 1)
  names = inference.output_names(labels, config.num_classes,
                                 config.labels_offset)
  assert (names[0], names[-1]) == ('name 0001', 'name 1000')
