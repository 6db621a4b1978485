"""The TFLite export: a `serving_default` signature and a labels file.

A cifarnet trained two steps on the shapes dataset is exported as a frozen
graph and as float and dynamic-range quantized TFLite models. The models'
signature is read by the plain TFLite interpreter, as an app would, and run
on a shapes image preprocessed as `predict_images` takes it.
"""

import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from conftest import run_cli
from slimvision.datasets import shapes
from slimvision.engines import export
from slimvision.engines import inference


@pytest.fixture(scope='module')
def exported(shapes_dir, cifarnet_train_dir, tmp_path_factory):
  """{'frozen', 'tflite', 'quantized'}: paths of one cifarnet's exports."""
  out = tmp_path_factory.mktemp('tflite')
  train_dir = cifarnet_train_dir
  paths = {'frozen': str(out / 'frozen.pb'),
           'tflite': str(out / 'models' / 'cifarnet.tflite'),
           'quantized': str(out / 'models' / 'cifarnet_q.tflite')}
  common = ['--model_name=cifarnet', '--dataset_name=shapes',
            '--dataset_dir=' + shapes_dir, '--checkpoint_path=' + train_dir]
  result = run_cli('export_inference_graph.py', *common,
                   '--frozen_graph_file=' + paths['frozen'],
                   '--tflite_file=' + paths['tflite'])
  assert result.returncode == 0, result.stderr[-3000:]
  paths['log'] = result.stderr
  result = run_cli('export_inference_graph.py', *common,
                   '--tflite_file=' + paths['quantized'], '--tflite_quantize')
  assert result.returncode == 0, result.stderr[-3000:]
  return paths


def _star_image(shapes_dir):
  """A validation star, preprocessed: float32 [1, 32, 32, 3]."""
  path = os.path.join(shapes_dir, 'images', 'validation', 'star',
                      '00000.png')
  with open(path, 'rb') as f:
    encoded = [f.read()]
  with tf.Graph().as_default(), tf.Session() as session:
    feed = tf.placeholder(tf.string, [None])
    images = inference.preprocess_encoded(feed, 'cifarnet')
    return session.run(images, {feed: encoded})


def _frozen_probabilities(path, images):
  with tf.Graph().as_default(), tf.Session() as session:
    probabilities, = tf.import_graph_def(
        inference.read_graph_def(path),
        return_elements=[inference.PROBABILITIES_NAME + ':0'], name='')
    return session.run(probabilities, {inference.INPUT_NAME + ':0': images})


def _signature_probabilities(path, images):
  interpreter = tf.lite.Interpreter(model_path=path)
  runner = interpreter.get_signature_runner(inference.SERVING_SIGNATURE)
  return runner(images=images)['probabilities']


@pytest.mark.parametrize('model', ['tflite', 'quantized'])
def test_tflite_has_a_serving_signature_from_images_to_probabilities(
    exported, model):
  interpreter = tf.lite.Interpreter(model_path=exported[model])
  assert interpreter.get_signature_list() == {
      'serving_default': {'inputs': ['images'], 'outputs': ['probabilities']}}
  runner = interpreter.get_signature_runner('serving_default')
  given = runner.get_input_details()['images']
  assert list(given['shape']) == [1, 32, 32, 3]
  assert given['dtype'] == np.float32
  # Still one output, so index-based code reads the probabilities as before.
  (output,) = interpreter.get_output_details()
  assert list(output['shape']) == [1, shapes.NUM_CLASSES]


def test_tflite_signature_gives_the_frozen_graphs_probabilities(
    exported, shapes_dir):
  images = _star_image(shapes_dir)
  want = _frozen_probabilities(exported['frozen'], images)
  got = _signature_probabilities(exported['tflite'], images)
  assert got.shape == (1, shapes.NUM_CLASSES)
  assert np.max(np.abs(got - want)) < 1e-5
  quantized = _signature_probabilities(exported['quantized'], images)
  np.testing.assert_allclose(quantized.sum(), 1.0, rtol=1e-4)


def test_labels_file_names_each_output_in_order(exported):
  for model in ('tflite', 'quantized'):
    labels = export.tflite_labels_path(exported[model])
    assert labels == exported[model][:-len('.tflite')] + '.labels.txt'
    with open(labels) as f:
      assert f.read().splitlines() == list(shapes.CLASS_NAMES)
  assert sorted(os.listdir(os.path.dirname(exported['tflite']))) == [
      'cifarnet.labels.txt', 'cifarnet.tflite', 'cifarnet_q.labels.txt',
      'cifarnet_q.tflite']  # No temporary files left.
  assert 'Wrote %s' % export.tflite_labels_path(exported['tflite']) in (
      exported['log'])
  assert 'signature serving_default: images -> probabilities' in (
      exported['log'])


def test_labels_path_of_other_names():
  assert export.tflite_labels_path('/m/model.tflite') == '/m/model.labels.txt'
  assert export.tflite_labels_path('/m/model.bin') == (
      '/m/model.bin.labels.txt')
