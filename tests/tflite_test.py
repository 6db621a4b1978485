"""TFLite models: the export's signature and labels file, full-integer
models (engines/tflite.py), and scoring and classifying with a .tflite.

A cifarnet trained two steps on the shapes dataset is exported as a frozen
graph and as float and dynamic-range quantized TFLite models. The models'
signature is read by the plain TFLite interpreter, as an app would, and run
on a shapes image preprocessed as `predict_images` takes it. A
mobilenet_v1_025 (with batch norm) is exported full-integer, calibrated on
the shapes training images; eval_image_classifier.py and classify_image.py
--tflite_file give what the model computes.
"""

import json
import os
import re

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from conftest import error_line, run_cli
from slimvision.datasets import shapes
from slimvision.engines import export
from slimvision.engines import inference
from slimvision.engines import tflite


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


# ----------------------------------------------------------------------------
# Full-integer models (--tflite_quantize=int8) and running a .tflite.


def _export_int8(mobilenet_train_dir, shapes_dir, path, *extra):
  return run_cli(
      'export_inference_graph.py', '--model_name=mobilenet_v1_025',
      '--image_size=32', '--checkpoint_path=' + mobilenet_train_dir,
      '--dataset_name=shapes', '--dataset_dir=' + shapes_dir,
      '--tflite_file=' + path, '--tflite_quantize=int8', *extra)


@pytest.fixture(scope='module')
def int8_models(mobilenet_train_dir, shapes_dir, tmp_path_factory):
  """{'int8', 'uint8', 'float', 'log'}: a mobilenet_v1_025 exported
  full-integer (calibrated on 20 of the 48 training images; int8 and uint8
  input and output) and in float."""
  out = tmp_path_factory.mktemp('int8')
  paths = {'int8': str(out / 'm8.tflite'), 'uint8': str(out / 'mu8.tflite'),
           'float': str(out / 'mf.tflite')}
  result = _export_int8(mobilenet_train_dir, shapes_dir, paths['int8'],
                        '--calibration_steps=20')
  assert result.returncode == 0, result.stderr[-3000:]
  paths['log'] = result.stderr
  result = _export_int8(mobilenet_train_dir, shapes_dir, paths['uint8'],
                        '--tflite_io_type=uint8', '--calibration_steps=100')
  assert result.returncode == 0, result.stderr[-3000:]
  paths['uint8_log'] = result.stderr
  result = run_cli(
      'export_inference_graph.py', '--model_name=mobilenet_v1_025',
      '--image_size=32', '--checkpoint_path=' + mobilenet_train_dir,
      '--dataset_name=shapes', '--dataset_dir=' + shapes_dir,
      '--tflite_file=' + paths['float'])
  assert result.returncode == 0, result.stderr[-3000:]
  return paths


@pytest.mark.parametrize('io_type', ['int8', 'uint8'])
def test_int8_export_has_only_integer_tensors(int8_models, io_type):
  interpreter = tflite.interpreter(None, path=int8_models[io_type])
  kinds = {np.dtype(t['dtype']).name for t in
           interpreter.get_tensor_details()}
  assert kinds == {'int8', 'int32'} | ({'uint8'} if io_type == 'uint8'
                                       else set())
  for detail in (interpreter.get_input_details()[0],
                 interpreter.get_output_details()[0]):
    assert np.dtype(detail['dtype']).name == io_type
  assert interpreter.get_signature_list() == {
      'serving_default': {'inputs': ['images'], 'outputs': ['probabilities']}}


def test_int8_metadata_gives_the_scale_and_zero_point(int8_models):
  path = int8_models['int8']
  with open(tflite.metadata_path(path)) as f:
    metadata = json.load(f)
  interpreter = tflite.interpreter(None, path=path)
  for key, detail in (('input', interpreter.get_input_details()[0]),
                      ('output', interpreter.get_output_details()[0])):
    assert (metadata[key]['scale'], metadata[key]['zero_point']) == (
        pytest.approx(detail['quantization'][0]), detail['quantization'][1])
    assert metadata[key]['dtype'] == 'int8'
  assert metadata['output']['shape'] == [1, shapes.NUM_CLASSES]
  # Softmax outputs: [0, 1) on 256 steps.
  assert (metadata['output']['scale'], metadata['output']['zero_point']) == (
      1 / 256.0, -128)
  assert metadata['quantization'] == 'int8'
  assert metadata['ranges'] == 'calibrated on 20 images of shapes/train'
  assert metadata['labels'] == 'm8.labels.txt'
  assert re.search(r'Wrote .*m8\.metadata\.json: input int8 scale [\d.]+ '
                   r'zero point -?\d+, output int8 scale 0\.00390625 zero '
                   r'point -128', int8_models['log'])
  # 100 asked, 48 in the split.
  assert 'Calibrated on the 48 images of shapes/train (fewer than ' \
      '--calibration_steps=100)' in int8_models['uint8_log']


def test_int8_model_follows_the_float_model(int8_models, shapes_dir):
  images = inference_images(shapes_dir)
  want = tflite.Model(int8_models['float']).outputs(images)
  for io_type in ('int8', 'uint8'):
    got = tflite.Model(int8_models[io_type]).outputs(images)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 0.05


def inference_images(shapes_dir, size=32):
  """The 12 shapes validation images through mobilenet's eval
  preprocessing, and their labels."""
  encoded = []
  for name in shapes.CLASS_NAMES:
    folder = os.path.join(shapes_dir, 'images', 'validation', name)
    for file_name in sorted(os.listdir(folder)):
      with open(os.path.join(folder, file_name), 'rb') as f:
        encoded.append(f.read())
  with tf.Graph().as_default(), tf.Session() as session:
    feed = tf.placeholder(tf.string, [None])
    images = inference.preprocess_encoded(feed, 'mobilenet_v1_025', size)
    return session.run(images, {feed: encoded})


def test_a_network_with_float_only_ops_is_refused_naming_them(
    cifarnet_train_dir, shapes_dir, tmp_path):
  path = str(tmp_path / 'c.tflite')
  result = run_cli(
      'export_inference_graph.py', '--model_name=cifarnet',
      '--checkpoint_path=' + cifarnet_train_dir, '--dataset_name=shapes',
      '--dataset_dir=' + shapes_dir, '--tflite_file=' + path,
      '--tflite_quantize=int8', '--calibration_steps=4')
  assert result.returncode == 2
  assert error_line(result) == (
      'error: the full-integer TFLite conversion would keep 2 float op(s): '
      'LOCAL_RESPONSE_NORMALIZATION (CifarNet/norm1), '
      'LOCAL_RESPONSE_NORMALIZATION (CifarNet/norm2) (and 4 '
      'QUANTIZE/DEQUANTIZE around them); microcontrollers and the EdgeTPU '
      'cannot run them (use --tflite_quantize=dynamic or none for this '
      'network)')
  assert os.listdir(str(tmp_path)) == []


def test_float_ops_of_a_float_model_are_named(exported):
  with open(exported['tflite'], 'rb') as f:
    found = tflite.float_ops(f.read())
  kinds = [op.split(' (')[0] for op in found]
  assert kinds[0] == 'CONV_2D' and kinds[-1] == 'SOFTMAX'
  assert kinds.count('CONV_2D') == 2 and 'LOCAL_RESPONSE_NORMALIZATION' in kinds


def test_eval_of_a_tflite_model_scores_its_outputs(int8_models, shapes_dir,
                                                   mobilenet_train_dir,
                                                   tmp_path):
  images = inference_images(shapes_dir)
  labels = np.repeat(np.arange(shapes.NUM_CLASSES), 2)
  common = ['--dataset_name=shapes', '--dataset_dir=' + shapes_dir,
            '--dataset_split_name=validation',
            '--model_name=mobilenet_v1_025', '--batch_size=5']
  printed = {}
  for name in ('float', 'int8'):
    result = run_cli('eval_image_classifier.py', *common,
                     '--tflite_file=' + int8_models[name],
                     '--eval_dir=' + str(tmp_path / name))
    assert result.returncode == 0, result.stderr[-3000:]
    printed[name] = result.stdout
    outputs = tflite.Model(int8_models[name]).outputs(images)
    accuracy = np.mean(np.argmax(outputs, axis=1) == labels)
    assert 'Scored 12 examples' in result.stdout
    assert 'Accuracy: %.4f' % accuracy in result.stdout
  # The float model scores as the checkpoint does: same report.
  result = run_cli('eval_image_classifier.py', *common, '--eval_image_size=32',
                   '--checkpoint_path=' + mobilenet_train_dir,
                   '--eval_dir=' + str(tmp_path / 'checkpoint'))
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout == printed['float']
  # A model of another size or class count is named.
  result = run_cli('eval_image_classifier.py', *common,
                   '--eval_image_size=64', '--tflite_file=' +
                   int8_models['int8'], '--eval_dir=' + str(tmp_path / 'x'))
  assert error_line(result) == (
      'error: --eval_image_size=64, but --tflite_file %s takes 32 px '
      'images' % int8_models['int8'])


def test_classify_runs_a_tflite_model(int8_models, shapes_dir):
  image = os.path.join(shapes_dir, 'images', 'validation', 'star',
                       '00000.png')
  images = inference_images(shapes_dir)
  want = tflite.Model(int8_models['int8']).outputs(images[8:9])[0]
  result = run_cli('classify_image.py', '--model_name=mobilenet_v1_025',
                   '--tflite_file=' + int8_models['int8'], '--top_k=6',
                   image)
  assert result.returncode == 0, result.stderr[-3000:]
  lines = result.stdout.splitlines()
  assert lines[0] == image
  # Names from the labels file the export wrote beside the model.
  printed = {line.split()[0]: float(line.split()[1]) for line in lines[1:]}
  assert set(printed) == set(shapes.CLASS_NAMES)
  for index, name in enumerate(shapes.CLASS_NAMES):
    assert printed[name] == pytest.approx(want[index], abs=1e-4)
