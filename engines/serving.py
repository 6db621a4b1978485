"""The serving engine: an exported SavedModel over HTTP, without TF Serving.

`run(ServeConfig)` loads the SavedModel that export_inference_graph.py wrote
(engines/export.py) once and answers with the standard library's
ThreadingHTTPServer until interrupted. The predict endpoint speaks TensorFlow
Serving's REST API, so a client written for TF Serving works unchanged:

  POST /v1/models/<name>[/versions/<v>]:predict
      {"signature_name": "serving_default",          (optional)
       "instances": [{"b64": "<base64 image file>"}, ...]}
      -> {"predictions": [{"classes": 4, "class_names": "star",
                           "probabilities": [...], "logits": [...]}, ...]}
      An instance may also name its input: {"image_bytes": {"b64": ...}}.
      Columnar form: {"inputs": [{"b64": ...}, ...]} or
      {"inputs": {"image_bytes": [...]}} -> {"outputs": {"classes": [...],
      "class_names": [...], "probabilities": [[...]], "logits": [[...]]}}.
      "signature_name": "predict_images" takes preprocessed float images
      [size][size][channels] as nested lists instead.
  POST /classify[?top_k=K]   the body is one image file's bytes
      -> {"top_k": [{"class": "star", "index": 4, "probability": 0.97}, ...]}
      `index` is the model output (probabilities[index]); sorted by
      probability, --top_k of them unless the query gives top_k.
  GET /v1/models/<name>[/versions/<v>]   TF Serving's model status.
  GET /                                   the endpoints and signatures;
      a browser (Accept: text/html) gets a page that classifies the image
      files chosen or dropped on it through POST /classify
      (engines/serving_page.py).

Errors are TF Serving's {"error": "<one line>"}: 400 for a request the model
cannot answer (bad JSON, a missing or bad b64 value, an undecodable image),
404 for an unknown path or model name, 405 for a wrong method, 413 for a
body over MAX_BODY_BYTES. A failure of ours is a 500 with one line; the
traceback goes to the server's log only, and the server keeps serving.
"""

import base64
import binascii
import http.server
import json
import os
import re
import socket
import sys
import urllib.parse

import numpy as np
# The TF2 API: the SavedModel is loaded as eager functions (thread-safe to
# call from the request threads), not into a TF1 session and graph.
import tensorflow as tf

from slimvision.core import errors
from slimvision.core import log
from slimvision.core.errors import UserError
from slimvision.engines import inference
from slimvision.engines import serving_page

MAX_BODY_BYTES = 64 << 20  # 64 MiB: many images, but bounded memory.

_MODEL_PATH = re.compile(
    r'^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?'
    r'(?::(?P<verb>\w+))?$')


class _Page(bytes):
  """An HTML answer (the browser page), sent as it is."""


class HttpError(Exception):
  """A request the server answers with `status` and {"error": message}."""

  def __init__(self, status, message, allow=None):
    super().__init__(message)
    self.status = status
    self.message = message
    self.allow = allow  # For a 405: the method the path takes.


def resolve_model_dir(path):
  """The SavedModel folder to serve and its version.

  Args:
    path: a SavedModel folder, or a folder of numbered version folders (TF
      Serving's model base path), whose highest version is served.

  Returns:
    (folder, version): version is the folder's name if it is a number, else
    '1'.

  Raises:
    UserError: no SavedModel there.
  """
  if not path or not os.path.isdir(path):
    raise UserError('--saved_model_dir %s is not a folder' % path)
  if not tf.saved_model.contains_saved_model(path):
    versions = [int(name) for name in os.listdir(path) if name.isdigit()
                and tf.saved_model.contains_saved_model(
                    os.path.join(path, name))]
    if not versions:
      raise UserError('--saved_model_dir %s holds no SavedModel (neither '
                      'saved_model.pb nor numbered version folders with '
                      'one); write one with export_inference_graph.py '
                      '--saved_model_dir' % path)
    path = os.path.join(path, str(max(versions)))
  name = os.path.basename(os.path.normpath(path))
  return path, name if name.isdigit() else '1'


def tf_error_message(error):
  """The line of a TensorFlow error that says what is wrong with the input
  (e.g. 'Unknown image file format. One of JPEG, ... required.'), without
  the framing of an error raised by a function call."""
  for line in error.message.splitlines():
    line = re.sub(r'\s*\[Op:\w+\]$', '', line)
    if (line.strip() and not line[0].isspace() and
        not line.startswith(('Graph execution error', 'Detected at node',
                             '<stack traces unavailable>'))):
      return line.strip()
  return errors.first_line(error.message)


class _Signature(object):
  """One single-input signature of the model, called in fixed batches."""

  def __init__(self, function):
    self.function = function
    (self.input_name, self.spec), = function.structured_input_signature[
        1].items()
    self.outputs = sorted(function.structured_outputs)
    # A SavedModel exported with --batch_size takes exactly that many.
    self.batch = self.spec.shape[0] if self.spec.shape.rank else None

  def describe(self):
    """{'inputs': {name: {dtype, shape}}, 'outputs': [names]} for GET /."""
    return {'inputs': {self.input_name: {
        'dtype': self.spec.dtype.name,
        'shape': [-1 if d is None else d for d in self.spec.shape.as_list()]}},
            'outputs': self.outputs}

  def __call__(self, values):
    """The outputs {name: array [len(values), ...]} for the input rows.

    A fixed batch is run chunk by chunk, the last chunk padded by repeating
    its last row (the padding's outputs are dropped).

    Raises:
      tf.errors.InvalidArgumentError: a value the graph rejects (such as an
        undecodable image).
    """
    size = self.batch or len(values)
    results = {name: [] for name in self.outputs}
    for start in range(0, len(values), size):
      chunk = list(values[start:start + size])
      count = len(chunk)
      chunk += chunk[-1:] * (size - count)
      outputs = self.function(**{self.input_name: tf.constant(
          np.asarray(chunk) if self.spec.dtype != tf.string else chunk,
          self.spec.dtype)})
      for name in self.outputs:
        results[name].append(outputs[name].numpy()[:count])
    return {name: np.concatenate(parts) for name, parts in results.items()}


class Model(object):
  """The loaded SavedModel: its signatures and class names.

  Attributes:
    path, version: what is served (resolve_model_dir).
    signatures: {name: _Signature} of the single-input signatures.
    class_names: [num_classes] name of each output, from the model's
      `class_names_table` (its index as text where the model has none).
  """

  def __init__(self, saved_model_dir):
    self.path, self.version = resolve_model_dir(saved_model_dir)
    if not tf.executing_eagerly():
      raise UserError('serving needs TF2 eager execution; the process has '
                      'disabled it (tf.compat.v1.disable_eager_execution)')
    try:
      self._loaded = tf.saved_model.load(self.path)
    except Exception as e:  # pylint: disable=broad-except
      # Unreadable or foreign files: protobuf, OS and TensorFlow errors.
      raise UserError('--saved_model_dir %s cannot be loaded: %s' % (
          self.path, errors.tf_error_text(getattr(e, 'message', e))))
    self.signatures = {
        name: _Signature(function)
        for name, function in self._loaded.signatures.items()
        if len(function.structured_input_signature[1]) == 1}
    default = self.signatures.get(inference.SERVING_SIGNATURE)
    if (default is None or default.input_name != inference.BYTES_INPUT or
        default.spec.dtype != tf.string or
        inference.PROBABILITIES_NAME not in default.outputs):
      raise UserError('%s has no %s signature from %s to %s; was it written '
                      'by export_inference_graph.py?' % (
                          self.path, inference.SERVING_SIGNATURE,
                          inference.BYTES_INPUT, inference.PROBABILITIES_NAME))
    self.class_names = self._class_names(default)

  def _class_names(self, default):
    num_classes = default.function.structured_outputs[
        inference.PROBABILITIES_NAME].shape[-1]
    try:
      # A TF1 SavedModel loads with `prune`, which reaches any tensor.
      table = self._loaded.prune(
          [], inference.CLASS_NAMES_TABLE + ':0')().numpy()
      return [name.decode('utf-8', 'replace') for name in table]
    except (AttributeError, KeyError, ValueError):
      return [str(i) for i in range(num_classes)]

  def signature(self, name):
    """The _Signature `name`; HttpError 400 if the model has none."""
    if name not in self.signatures:
      raise HttpError(400, 'the model has no signature %r; it has %s' % (
          name, ', '.join(sorted(self.signatures))))
    return self.signatures[name]

  def predict(self, signature_name, values):
    """Runs a signature on input rows; returns {output: array [rows, ...]}.

    Raises:
      HttpError: 400 for an unknown signature or input the graph rejects.
    """
    signature = self.signature(signature_name)
    try:
      return signature(values)
    except tf.errors.InvalidArgumentError as e:
      raise HttpError(400, self._which_failed(signature, values, e))

  def _which_failed(self, signature, values, error):
    """The error of the first instance that fails on its own (found only
    after a batch failed, so good requests are run once)."""
    if len(values) > 1:
      for i, value in enumerate(values):
        try:
          signature([value])
        except tf.errors.InvalidArgumentError as e:
          return 'instance %d: %s' % (i, tf_error_message(e))
    return tf_error_message(error)

  def top_k(self, image, k):
    """The k most probable classes of one encoded image file.

    Returns:
      [{'class': name, 'index': output index, 'probability': float}], most
      probable first.
    """
    outputs = self.predict(inference.SERVING_SIGNATURE, [image])
    row = outputs[inference.PROBABILITIES_NAME][0]
    top = np.argsort(-row, kind='stable')[:k]
    return [{'class': self.class_names[i], 'index': int(i),
             'probability': float(row[i])} for i in top]


# ----------------------------------------------------------------------------
# TF Serving's JSON: request values in, output arrays out.


def _decode_value(value, spec, where):
  """One row of the input (a JSON value) as the signature takes it."""
  if spec.dtype == tf.string:
    if isinstance(value, dict):
      if set(value) != {'b64'}:
        raise HttpError(400, '%s: binary input is {"b64": "<base64>"}, got '
                        'keys %s' % (where, ', '.join(sorted(value)) or
                                     'none'))
      text = value['b64']
      if not isinstance(text, str):
        raise HttpError(400, '%s: "b64" must be a string' % where)
      try:
        # Whitespace: `base64` without -w0 wraps its output at 76 columns.
        return base64.b64decode(re.sub(r'\s+', '', text), validate=True)
      except (binascii.Error, ValueError) as e:
        raise HttpError(400, '%s: "b64" is not valid base64 (%s)' % (where, e))
    if isinstance(value, str):
      return value.encode('utf-8')  # TF Serving takes plain text as is.
    raise HttpError(400, '%s: expected {"b64": "<base64 image file>"}, got '
                    '%s' % (where, type(value).__name__))
  try:
    array = np.asarray(value, spec.dtype.as_numpy_dtype)
  except (TypeError, ValueError) as e:
    raise HttpError(400, '%s: not a %s array (%s)' % (
        where, spec.dtype.name, errors.first_line(e)))
  want = spec.shape.as_list()[1:]
  if len(array.shape) != len(want) or any(
      w is not None and w != g for w, g in zip(want, array.shape)):
    raise HttpError(400, '%s: shape %s; the signature takes %s' % (
        where, list(array.shape), [-1 if w is None else w for w in want]))
  return array


def _named(value, signature, where):
  """The input of one row-format instance: its value, or the value of its
  one named input ({"<input name>": value})."""
  if isinstance(value, dict) and 'b64' not in value:
    name = signature.input_name
    if set(value) != {name}:
      raise HttpError(400, '%s has input(s) %s; the signature takes one, '
                      '%r' % (where, ', '.join(map(repr, sorted(value))) or
                              'none', name))
    value = value[name]
  return value


def parse_predict(body, signature_for):
  """A TF Serving predict request body.

  Args:
    body: the request body, bytes.
    signature_for: function(signature name) -> _Signature (raising
      HttpError for an unknown one).

  Returns:
    (signature name, input rows, 'row' or 'columnar').

  Raises:
    HttpError: 400 naming what is wrong with the body.
  """
  try:
    request = json.loads(body)
  except ValueError as e:
    raise HttpError(400, 'the body is not JSON: %s' % e)
  if not isinstance(request, dict):
    raise HttpError(400, 'the body must be a JSON object with "instances" '
                    '(or "inputs"), got a %s' % type(request).__name__)
  name = request.get('signature_name') or inference.SERVING_SIGNATURE
  if not isinstance(name, str):
    raise HttpError(400, '"signature_name" must be a string')
  signature = signature_for(name)
  if ('instances' in request) == ('inputs' in request):
    raise HttpError(400, 'the body needs exactly one of "instances" (row '
                    'format) and "inputs" (columnar format), e.g. '
                    '{"instances": [{"b64": "<base64 image file>"}]}')
  if 'instances' in request:
    rows, form = request['instances'], 'row'
    if not isinstance(rows, list):
      raise HttpError(400, '"instances" must be a list, one item per image')
    rows = [_named(row, signature, 'instance %d' % i)
            for i, row in enumerate(rows)]
  else:
    rows, form = _named(request['inputs'], signature, '"inputs"'), 'columnar'
    if not isinstance(rows, list):
      raise HttpError(400, '"inputs" must be a list (or {%r: list})' %
                      signature.input_name)
  if not rows:
    raise HttpError(400, 'no instances to predict')
  where = 'instance %d' if form == 'row' else '"inputs" item %d'
  return name, [_decode_value(row, signature.spec, where % i)
                for i, row in enumerate(rows)], form


def _json_array(name, array):
  """An output as JSON values: text for strings (base64 objects for names
  ending in `_bytes`, as TF Serving does), numbers otherwise."""
  if array.dtype == object:
    if name.endswith('_bytes'):
      return [{'b64': base64.b64encode(v).decode('ascii')} for v in array]
    return [v.decode('utf-8', 'replace') for v in array]
  return array.tolist()


def predict_response(outputs, form):
  """TF Serving's response to a predict request: rows or columns."""
  columns = {name: _json_array(name, array)
             for name, array in outputs.items()}
  if form == 'columnar':
    return {'outputs': columns}
  count = len(next(iter(columns.values())))
  return {'predictions': [{name: column[i] for name, column in
                           columns.items()} for i in range(count)]}


# ----------------------------------------------------------------------------
# HTTP.


class _Handler(http.server.BaseHTTPRequestHandler):
  """Answers one request; `self.server` is the _Server with the model."""

  server_version = 'slimvision'

  def do_GET(self):  # pylint: disable=invalid-name
    self._answer('GET')

  def do_HEAD(self):  # pylint: disable=invalid-name
    # GET's status and headers without the body (curl -I, link checkers).
    self._answer('GET', send_body=False)

  def do_POST(self):  # pylint: disable=invalid-name
    self._answer('POST')

  def do_PUT(self):  # pylint: disable=invalid-name
    self._answer('PUT')

  def do_DELETE(self):  # pylint: disable=invalid-name
    self._answer('DELETE')

  def _answer(self, method, send_body=True):
    allow = None
    try:
      status, body = 200, self._route(method)
    except HttpError as e:
      status, body, allow = e.status, {'error': e.message}, e.allow
    except Exception as e:  # pylint: disable=broad-except
      # Ours, not the client's: the traceback stays in the server's log.
      log.logger.exception('%s %s failed', method, self.path)
      status, body = 500, {'error': 'internal error: %s: %s' % (
          type(e).__name__, errors.first_line(e))}
    if status != 200:
      log.info('%s %s -> %d %s', method, self.path, status, body['error'])
    if isinstance(body, _Page):
      data, content_type = body, 'text/html; charset=utf-8'
    else:
      data = (json.dumps(body) + '\n').encode('utf-8')
      content_type = 'application/json'
    self.send_response(status)
    self.send_header('Content-Type', content_type)
    self.send_header('Content-Length', str(len(data)))
    if allow:
      self.send_header('Allow', allow)
    self.end_headers()
    if send_body:
      self.wfile.write(data)

  def log_message(self, format, *args):  # pylint: disable=redefined-builtin
    # http.server writes every request to stderr; ours go to the debug log
    # (and errors to the info log, in _answer).
    log.logger.debug(format, *args)

  def _route(self, method):
    url = urllib.parse.urlsplit(self.path)
    config = self.server.config
    if url.path == '/classify':
      self._method(method, 'POST', url.path)
      return self._classify(url.query)
    if url.path == '/':
      self._method(method, 'GET', url.path)
      if serving_page.wants_html(self.headers.get('Accept')):
        model = self.server.model
        return _Page(serving_page.render(
            model.path, model.version, config.serving_name,
            model.class_names, config.top_k))
      return self._help()
    match = _MODEL_PATH.match(url.path)
    if not match:
      raise HttpError(404, 'unknown path %s; see GET / for the endpoints' %
                      url.path)
    name, version, verb = match.group('name', 'version', 'verb')
    if (name != config.serving_name or
        version not in (None, self.server.model.version)):
      raise HttpError(404, 'Servable not found for request: %s' % (
          'Latest(%s)' % name if version is None else
          'Specific(%s, %s)' % (name, version)))
    if verb is None:
      self._method(method, 'GET', url.path)
      return self._status()
    if verb != 'predict':
      raise HttpError(404, 'unknown path %s: this server answers :predict '
                      '(and POST /classify), not :%s' % (url.path, verb))
    self._method(method, 'POST', url.path)
    return self._predict()

  def _method(self, method, allowed, path):
    if method != allowed:
      raise HttpError(405, 'use %s for %s' % (allowed, path), allow=allowed)

  def _body(self):
    length = self.headers.get('Content-Length')
    if length is None:
      if self.headers.get('Transfer-Encoding'):
        self.close_connection = True
        raise HttpError(411, 'send the body with a Content-Length (curl '
                        '--data-binary @FILE does), not chunked')
      return b''
    if not length.isdigit():
      raise HttpError(400, 'bad Content-Length %r' % length)
    if int(length) > MAX_BODY_BYTES:
      # The unread body would be read as the next request: close instead.
      self.close_connection = True
      raise HttpError(413, 'the body has %s bytes; the limit is %d' % (
          length, MAX_BODY_BYTES))
    return self.rfile.read(int(length))

  def _predict(self):
    model = self.server.model
    name, rows, form = parse_predict(self._body(), model.signature)
    return predict_response(model.predict(name, rows), form)

  def _classify(self, query):
    k = self.server.config.top_k
    values = urllib.parse.parse_qs(query).get('top_k')
    if values:
      if not values[-1].isdigit() or int(values[-1]) < 1:
        raise HttpError(400, 'top_k must be a positive number, got %r' %
                        values[-1])
      k = int(values[-1])
    image = self._body()
    if not image:
      raise HttpError(400, 'the body is empty: POST the bytes of one image '
                      'file (JPEG, PNG, GIF, BMP)')
    return {'top_k': self.server.model.top_k(image, k)}

  def _status(self):
    return {'model_version_status': [{
        'version': self.server.model.version, 'state': 'AVAILABLE',
        'status': {'error_code': 'OK', 'error_message': ''}}]}

  def _help(self):
    model, name = self.server.model, self.server.config.serving_name
    return {
        'model': model.path,
        'endpoints': {
            'POST /v1/models/%s:predict' % name:
                'TF Serving REST predict: {"instances": [{"b64": '
                '"<base64 image file>"}]}',
            'POST /classify':
                'the body is an image file; answers its top classes '
                '(?top_k=K)',
            'GET /v1/models/%s' % name: 'model status',
        },
        'signatures': {signature_name: signature.describe()
                       for signature_name, signature in
                       sorted(model.signatures.items())},
        'classes': model.class_names,
    }


class _Server(http.server.ThreadingHTTPServer):
  """One thread per request; the threads do not keep the process alive."""

  daemon_threads = True

  def __init__(self, address, model, config):
    if ':' in address[0]:
      self.address_family = socket.AF_INET6
    self.model = model
    self.config = config
    super().__init__(address, _Handler)

  def handle_error(self, request, client_address):
    # Only connection failures get here (a client gone mid-answer): the
    # handler answers every error of a request itself. socketserver would
    # print a traceback; one line says it.
    log.info('connection from %s failed: %s', client_address[0],
             errors.first_line(sys.exc_info()[1]))


def make_server(config, model=None):
  """A server for `config` (a ServeConfig), bound but not yet serving.

  Args:
    config: the ServeConfig; port 0 binds any free port.
    model: a loaded Model (default: load config.saved_model_dir).

  Returns:
    The server: `.server_address` is its (host, port), `.serve_forever()`
    serves, `.shutdown()` (from another thread) stops it and
    `.server_close()` releases the port.

  Raises:
    UserError: no usable SavedModel, or the address cannot be bound.
  """
  config.validate()
  model = model or Model(config.saved_model_dir)
  try:
    return _Server((config.host, config.port), model, config)
  except OSError as e:
    raise UserError('cannot listen on --host %s --port %d: %s' % (
        config.host, config.port, e.strerror or e))


def run(config):
  """Serves `config.saved_model_dir` until interrupted (Ctrl-C: returns).

  Prints one line naming the model and the address (with the real port
  where --port is 0).

  Raises:
    UserError: no usable SavedModel, or the address cannot be bound.
  """
  server = None
  try:  # Ctrl-C at any point, loading included, is a clean exit.
    server = make_server(config)
    host, port = server.server_address[:2]
    print('Serving %s on http://%s:%d (POST /v1/models/%s:predict, POST '
          '/classify; a browser page at /)' % (
              server.model.path, host, port, config.serving_name))
    sys.stdout.flush()
    server.serve_forever()
  except KeyboardInterrupt:
    log.info('Stopped serving')
  finally:
    if server is not None:
      server.server_close()
