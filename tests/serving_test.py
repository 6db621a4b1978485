"""serve_image_classifier.py: an exported SavedModel over HTTP.

A cifarnet trained two steps on the shapes dataset is exported as a
SavedModel (any batch) and again with --batch_size=2. The server runs in a
thread of this process on a free port of 127.0.0.1 and is asked what a TF
Serving client and curl would ask; its answers are compared with the
SavedModel's signatures called directly. One test runs the real command in
a process and stops it with Ctrl-C (SIGINT).

Recognising a drawn star is not tested: on two shared cores, cifarnet learns
nothing of the shapes in 300 steps (2 minutes), far from a 30 s budget.
"""

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import threading

import numpy as np
import pytest
import tensorflow as tf

from conftest import error_line, run_cli
import processes
from slimvision.datasets import shapes
from slimvision.engines import serving
from slimvision.engines import serving_page
from slimvision.engines.config import ServeConfig

TOP_K = 3


@pytest.fixture(scope='module')
def models(shapes_dir, cifarnet_train_dir, tmp_path_factory):
  """{'any': SavedModel folder (any batch), 'batch2': exported with
  --batch_size=2, 'base': the folder holding 'any' as version 1}."""
  out = tmp_path_factory.mktemp('serving')
  train_dir = cifarnet_train_dir
  paths = {'base': str(out / 'shapes'), 'any': str(out / 'shapes' / '1'),
           'batch2': str(out / 'batch2' / '1')}
  for name, extra in (('any', []), ('batch2', ['--batch_size=2'])):
    result = run_cli(
        'export_inference_graph.py', '--model_name=cifarnet',
        '--dataset_name=shapes', '--dataset_dir=' + shapes_dir,
        '--checkpoint_path=' + train_dir, '--saved_model_dir=' + paths[name],
        *extra)
    assert result.returncode == 0, result.stderr[-3000:]
  return paths


@pytest.fixture(scope='module')
def model(models):
  return serving.Model(models['any'])


@pytest.fixture(scope='module')
def server(model, models):
  """'host:port' of a server of the `any` model, running in a thread."""
  config = ServeConfig(saved_model_dir=models['any'], port=0, top_k=TOP_K)
  httpd = serving.make_server(config, model)
  thread = threading.Thread(target=httpd.serve_forever, daemon=True)
  thread.start()
  yield '%s:%d' % httpd.server_address[:2]
  httpd.shutdown()
  httpd.server_close()
  thread.join(10)


def _image(shapes_dir, name='star', index=0):
  path = os.path.join(shapes_dir, 'images', 'validation', name,
                      '%05d.png' % index)
  with open(path, 'rb') as f:
    return f.read()


def _request(address, method, path, body=None):
  """(status, parsed JSON body) of one request."""
  connection = http.client.HTTPConnection(address, timeout=60)
  try:
    connection.request(method, path, body=body)
    response = connection.getresponse()
    data = response.read()
    assert response.getheader('Content-Type') == 'application/json'
    return response.status, json.loads(data)
  finally:
    connection.close()


def _direct(saved_model, images):
  """The `serving_default` outputs of tf.saved_model.load, as a TF Serving
  would compute them."""
  function = tf.saved_model.load(saved_model).signatures['serving_default']
  return {k: v.numpy() for k, v in function(
      image_bytes=tf.constant(images)).items()}


def test_classify_answers_the_top_classes_by_name(server, shapes_dir):
  status, answer = _request(server, 'POST', '/classify',
                            _image(shapes_dir))
  assert status == 200, answer
  top = answer['top_k']
  assert len(top) == TOP_K
  probabilities = [entry['probability'] for entry in top]
  assert probabilities == sorted(probabilities, reverse=True)
  assert sum(probabilities) <= 1 + 1e-6
  for entry in top:
    assert entry['class'] == shapes.CLASS_NAMES[entry['index']]
  status, answer = _request(server, 'POST', '/classify?top_k=10',
                            _image(shapes_dir, 'ring'))
  assert status == 200, answer
  assert sorted(e['class'] for e in answer['top_k']) == list(
      shapes.CLASS_NAMES)
  assert abs(sum(e['probability'] for e in answer['top_k']) - 1) < 1e-5


def test_predict_answers_as_tf_serving_with_the_signatures_numbers(
    server, models, shapes_dir):
  images = [_image(shapes_dir, 'star'), _image(shapes_dir, 'cross', 1)]
  want = _direct(models['any'], images)
  # The body the README's curl example sends (printf + base64 -w0).
  b64 = [base64.b64encode(image).decode('ascii') for image in images]
  body = '{"instances": [{"b64": "%s"}, {"b64": "%s"}]}' % tuple(b64)
  status, answer = _request(server, 'POST', '/v1/models/slimvision:predict',
                            body)
  assert status == 200, answer
  predictions = answer['predictions']
  assert len(predictions) == 2
  for i, prediction in enumerate(predictions):
    assert sorted(prediction) == ['class_names', 'classes', 'logits',
                                  'probabilities']
    assert np.max(np.abs(np.array(prediction['probabilities']) -
                         want['probabilities'][i])) < 1e-5
    assert np.max(np.abs(np.array(prediction['logits']) -
                         want['logits'][i])) < 1e-5
    assert prediction['classes'] == int(want['classes'][i])
    assert prediction['class_names'] == want['class_names'][i].decode()
    assert prediction['class_names'] in shapes.CLASS_NAMES
  # Named inputs, a version, the signature by name and the columnar form.
  named = {'signature_name': 'serving_default', 'instances': [
      {'image_bytes': {'b64': b}} for b in b64]}
  status, answer = _request(
      server, 'POST', '/v1/models/slimvision/versions/1:predict',
      json.dumps(named))
  assert status == 200 and answer['predictions'] == predictions
  status, answer = _request(
      server, 'POST', '/v1/models/slimvision:predict',
      json.dumps({'inputs': {'image_bytes': [{'b64': b} for b in b64]}}))
  assert status == 200, answer
  assert answer['outputs']['probabilities'] == [
      p['probabilities'] for p in predictions]
  assert answer['outputs']['class_names'] == [
      p['class_names'] for p in predictions]


def test_predict_images_takes_preprocessed_float_images(server, models):
  images = np.random.RandomState(2).uniform(
      -1, 1, (2, 32, 32, 3)).astype(np.float32)
  function = tf.saved_model.load(models['any']).signatures['predict_images']
  want = function(images=tf.constant(images))['probabilities'].numpy()
  body = json.dumps({'signature_name': 'predict_images',
                     'instances': images.tolist()})
  status, answer = _request(server, 'POST', '/v1/models/slimvision:predict',
                            body)
  assert status == 200, answer
  got = np.array([p['probabilities'] for p in answer['predictions']])
  assert np.max(np.abs(got - want)) < 1e-5


def test_a_fixed_batch_model_answers_any_number_of_images(models, model,
                                                          shapes_dir):
  images = [_image(shapes_dir, name) for name in ('star', 'ring', 'square')]
  batch2 = serving.Model(models['batch2'])
  assert batch2.signatures['serving_default'].batch == 2
  assert model.signatures['serving_default'].batch is None
  got = batch2.predict('serving_default', images)
  want = model.predict('serving_default', images)
  assert got['probabilities'].shape == (3, shapes.NUM_CLASSES)
  assert np.max(np.abs(got['probabilities'] - want['probabilities'])) < 1e-5
  assert [e['class'] for e in batch2.top_k(images[0], 2)] == [
      e['class'] for e in model.top_k(images[0], 2)]


def test_status_and_help(server):
  status, answer = _request(server, 'GET', '/v1/models/slimvision')
  assert status == 200
  assert answer == {'model_version_status': [{
      'version': '1', 'state': 'AVAILABLE',
      'status': {'error_code': 'OK', 'error_message': ''}}]}
  status, answer = _request(server, 'GET', '/')
  assert status == 200
  assert 'POST /v1/models/slimvision:predict' in answer['endpoints']
  assert 'POST /classify' in answer['endpoints']
  assert answer['classes'] == list(shapes.CLASS_NAMES)
  assert answer['signatures']['serving_default']['inputs'] == {
      'image_bytes': {'dtype': 'string', 'shape': [-1]}}


BROWSER_ACCEPT = ('text/html,application/xhtml+xml,application/xml;q=0.9,'
                  '*/*;q=0.8')


def test_a_browser_gets_a_page_that_posts_the_files_to_classify(server):
  connection = http.client.HTTPConnection(server, timeout=60)
  try:
    connection.request('GET', '/', headers={'Accept': BROWSER_ACCEPT})
    response = connection.getresponse()
    page = response.read().decode('utf-8')
  finally:
    connection.close()
  assert response.status == 200
  assert response.getheader('Content-Type') == 'text/html; charset=utf-8'
  assert page.startswith('<!doctype html>')
  # Relative, so the page also works behind a path prefix.
  assert 'fetch("classify?top_k=" + k' in page
  assert 'type="file" id="files" accept="image/*"' in page
  assert 'value="%d"' % TOP_K in page
  assert ', '.join(shapes.CLASS_NAMES) in page
  # Nothing is fetched from elsewhere: the page works offline.
  assert 'http://' not in page and 'https://' not in page


def test_head_answers_as_get_without_a_body_and_405_says_allow(server):
  connection = http.client.HTTPConnection(server, timeout=60)
  try:
    connection.request('GET', '/v1/models/slimvision')
    get = connection.getresponse()
    get_body = get.read()
    connection.request('HEAD', '/v1/models/slimvision')
    head = connection.getresponse()
    assert head.read() == b''
    connection.request('GET', '/classify')
    wrong = connection.getresponse()
    wrong.read()
  finally:
    connection.close()
  assert (head.status, head.getheader('Content-Type')) == (
      200, 'application/json')
  assert int(head.getheader('Content-Length')) == len(get_body)
  assert (wrong.status, wrong.getheader('Allow')) == (405, 'POST')


def test_the_page_escapes_names_and_only_browsers_get_it():
  page = serving_page.render('/m/<1>', '2', 'a"b', ['<b>x</b>', 'r&d'],
                             4).decode('utf-8')
  assert '<b>x</b>' not in page and '&lt;b&gt;x&lt;/b&gt;, r&amp;d' in page
  assert '<code>/m/&lt;1&gt;</code> (version 2)' in page
  assert '<h1>a&quot;b</h1>' in page
  assert serving_page.wants_html(BROWSER_ACCEPT)
  for accept in (None, '', '*/*', 'application/json'):
    assert not serving_page.wants_html(accept), accept


PREDICT = '/v1/models/slimvision:predict'


@pytest.mark.parametrize('method, path, body, status, message', [
    ('POST', PREDICT, '{"instances": [', 400, 'the body is not JSON: '),
    ('POST', PREDICT, '[1, 2]', 400, 'must be a JSON object'),
    ('POST', PREDICT, '{}', 400, 'needs exactly one of "instances"'),
    ('POST', PREDICT, '{"instances": [{"image": "x"}]}', 400,
     "instance 0 has input(s) 'image'; the signature takes one, "
     "'image_bytes'"),
    ('POST', PREDICT, '{"instances": [{"b64": "@@"}]}', 400,
     'instance 0: "b64" is not valid base64'),
    ('POST', PREDICT, '{"instances": [{"b64": "QUJD"}, {"b64": 7}]}', 400,
     'instance 1: "b64" must be a string'),
    ('POST', PREDICT, '{"instances": [], "inputs": []}', 400,
     'needs exactly one of'),
    ('POST', PREDICT, '{"signature_name": "nope", "instances": []}', 400,
     "the model has no signature 'nope'; it has predict_images, "
     'serving_default'),
    ('POST', PREDICT, '{"signature_name": "predict_images", "instances": '
     '[[1, 2]]}', 400, 'instance 0: shape [2]; the signature takes [32, 32, '
     '3]'),
    ('POST', '/classify', b'', 400, 'the body is empty'),
    ('POST', '/classify?top_k=0', b'x', 400, 'top_k must be a positive'),
    ('POST', '/classify', b'not an image', 400,
     'Unknown image file format'),
    ('GET', '/classify', None, 405, 'use POST for /classify'),
    ('GET', '/nope', None, 404, 'unknown path /nope'),
    ('POST', '/v1/models/other:predict', '{}', 404,
     'Servable not found for request: Latest(other)'),
    ('GET', '/v1/models/slimvision/versions/7', None, 404,
     'Servable not found for request: Specific(slimvision, 7)'),
    ('POST', '/v1/models/slimvision:classify', '{}', 404,
     'this server answers :predict'),
])
def test_bad_requests_get_one_error_line(server, method, path, body, status,
                                         message):
  got, answer = _request(server, method, path, body)
  assert got == status, answer
  assert list(answer) == ['error']
  assert message in answer['error']
  assert '\n' not in answer['error'] and 'Traceback' not in answer['error']


def test_an_undecodable_image_is_named_and_the_server_keeps_serving(
    server, shapes_dir):
  good = base64.b64encode(_image(shapes_dir)).decode('ascii')
  bad = base64.b64encode(b'GIF89a truncated').decode('ascii')
  body = json.dumps({'instances': [{'b64': good}, {'b64': bad}]})
  status, answer = _request(server, 'POST', PREDICT, body)
  assert status == 400
  assert answer['error'].startswith('instance 1: ')
  assert 'Traceback' not in answer['error']
  status, answer = _request(server, 'POST', '/classify', _image(shapes_dir))
  assert status == 200 and len(answer['top_k']) == TOP_K


def test_a_folder_of_versions_serves_the_highest(models):
  assert serving.resolve_model_dir(models['base']) == (models['any'], '1')
  assert serving.resolve_model_dir(models['any']) == (models['any'], '1')


def test_a_busy_port_is_one_clear_error(model, models):
  with socket.socket() as busy:
    busy.bind(('127.0.0.1', 0))
    busy.listen(1)
    config = ServeConfig(saved_model_dir=models['any'],
                         port=busy.getsockname()[1])
    with pytest.raises(serving.UserError, match='cannot listen on --host '
                       '127.0.0.1 --port %d: ' % config.port):
      serving.make_server(config, model)


@pytest.mark.parametrize('args, message', [
    ([], 'give --saved_model_dir'),
    (['--saved_model_dir=MISSING'], 'MISSING is not a folder'),
    (['--saved_model_dir=EMPTY'], 'EMPTY holds no SavedModel'),
    (['--saved_model_dir=EMPTY', '--port=70000'], '--port must be in '
     '0..65535'),
    (['--saved_model_dir=EMPTY', '--serving_name=a/b'], "--serving_name "
     "'a/b' cannot be part of a URL path"),
])
def test_bad_flags_are_one_line_and_exit_2(tmp_path, args, message):
  os.makedirs(str(tmp_path / 'empty'))
  args = [a.replace('MISSING', str(tmp_path / 'missing')).replace(
      'EMPTY', str(tmp_path / 'empty')) for a in args]
  message = message.replace('MISSING', str(tmp_path / 'missing')).replace(
      'EMPTY', str(tmp_path / 'empty'))
  result = run_cli('serve_image_classifier.py', *args)
  assert result.returncode == 2, result.stderr[-2000:]
  assert message in error_line(result), result.stderr[-2000:]


def test_the_command_serves_until_ctrl_c(models, shapes_dir):
  # The process gets Python's own Ctrl-C handler (processes.py), as in a
  # terminal: a background process may inherit SIGINT ignored.
  process = processes.start(
      processes.script('serve_image_classifier.py'),
      ['--saved_model_dir=' + models['base'], '--port=0'],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  try:
    line = process.stdout.readline()
    assert line.startswith('Serving %s on http://127.0.0.1:' %
                           models['any']), process.stderr.read()[-3000:]
    assert line.rstrip().endswith(
        '(POST /v1/models/slimvision:predict, POST /classify; a browser '
        'page at /)')
    address = line.split('http://')[1].split()[0]
    status, answer = _request(address, 'POST', '/classify',
                              _image(shapes_dir))
    assert status == 200 and len(answer['top_k']) == 5
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
  finally:
    if process.poll() is None:
      process.kill()
      process.wait()
  assert process.returncode == 0, stderr[-3000:]
  assert 'Traceback' not in stderr


@pytest.mark.parametrize('damage', ['truncated_variables', 'garbage_pb'])
def test_a_damaged_saved_model_is_one_line_to_serve_and_classify(
    models, shapes_dir, tmp_path, damage):
  import shutil  # pylint: disable=g-import-not-at-top
  damaged = str(tmp_path / 'damaged')
  shutil.copytree(models['any'], damaged)
  if damage == 'truncated_variables':
    with open(os.path.join(damaged, 'variables',
                           'variables.data-00000-of-00001'), 'r+b') as f:
      f.truncate(100)
    reason = 'Read less bytes than requested'
  else:
    with open(os.path.join(damaged, 'saved_model.pb'), 'wb') as f:
      f.write(b'not a protocol buffer')
    reason = 'Cannot parse file'
  with pytest.raises(ValueError) as error:
    serving.Model(damaged)
  assert str(error.value).startswith(
      '--saved_model_dir %s cannot be loaded: %s' % (damaged, reason))
  image = os.path.join(shapes_dir, 'images', 'validation', 'star',
                       '00000.png')
  result = run_cli('classify_image.py', '--saved_model_dir=' + damaged, image)
  assert result.returncode == 2
  assert error_line(result).startswith(
      'error: --saved_model_dir %s cannot be loaded: %s' % (damaged, reason))
