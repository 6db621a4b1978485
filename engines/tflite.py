"""TFLite models: full-integer conversion, its checks, and running a model.

A full-integer model (export_inference_graph.py --tflite_quantize=int8, or
--quantize for a quantization-aware checkpoint) runs every op on 8-bit
integers (32-bit for biases), as TensorFlow Lite Micro and the EdgeTPU
compiler need: its input and output are int8 or uint8 (--tflite_io_type),
real value = (integer - zero_point) * scale. A conversion that would leave
any float op is refused, naming the ops. The scale and zero point of the
input and output are in the model and in the `.metadata.json` written
beside it (`metadata_path`).

`Model` runs a .tflite file, float or integer, on float images as the eval
preprocessing gives them (it quantizes the input and dequantizes the
output), for eval_image_classifier.py and classify_image.py --tflite_file.
"""

import json
import os
import re
import warnings

import numpy as np
import tensorflow.compat.v1 as tf

from slimvision.core.errors import UserError

IO_TYPES = {'int8': (tf.int8, np.int8), 'uint8': (tf.uint8, np.uint8)}
# The tensor types an integer model may have: 8-bit values, 32-bit biases
# and shapes.
INTEGER_TYPES = (np.int8, np.uint8, np.int32)


def configure_integer(converter, io_type, representative_images=None):
  """Sets `converter` (TF2's TFLiteConverter) to write a full-integer model.

  Args:
    converter: the converter of the float (or fake-quantized) function.
    io_type: 'int8' or 'uint8', the type of the input and output.
    representative_images: None for a graph whose fake-quant ops give every
      range (quantization-aware training); else a function returning an
      iterable of float32 images [1, size, size, channels] whose activation
      ranges calibrate the model.
  """
  converter.optimizations = [tf.lite.Optimize.DEFAULT]
  converter.inference_input_type = IO_TYPES[io_type][0]
  converter.inference_output_type = IO_TYPES[io_type][0]
  if representative_images is not None:
    # Only for calibration: TF 2.21's converter asks a quantization-aware
    # graph for a representative dataset too when the op set is restricted
    # (it checks before it looks at the graph); check_integer stands in.
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8]

    def representative_dataset():
      for image in representative_images():
        yield [image]
    converter.representative_dataset = representative_dataset


def convert_integer(converter):
  """converter.convert() for a full-integer model; its errors about ops it
  cannot quantize become one UserError naming them."""
  try:
    return converter.convert()
  except UserError:
    raise  # The calibration images' own errors.
  except Exception as e:  # pylint: disable=broad-except
    # The converter raises its own ConverterError (and others) with the
    # MLIR diagnostics as text.
    text = str(e)
    names = sorted(set(re.findall(r"'(?:tf|tfl)\.(\w+)'", text)) |
                   set(re.findall(r'op: (\w+)', text)))
    if not names and 'quantiz' not in text.lower():
      raise
    raise UserError(
        'the full-integer TFLite conversion failed: %s cannot run on 8-bit '
        'integers (TFLITE_BUILTINS_INT8); use --tflite_quantize=dynamic or '
        'none for this network%s' % (
            ', '.join(names) if names else 'some op',
            '' if names else ' (%s)' % text.strip().splitlines()[-1][:200]))


def interpreter(model, path=None):
  """A tf.lite.Interpreter of `model` (bytes) or `path`, without the
  default delegates (so ops and tensors are the model's own), tensors
  allocated."""
  with warnings.catch_warnings():
    # TF 2.21 warns that tf.lite.Interpreter moves to ai_edge_litert; it is
    # the interpreter this TensorFlow ships.
    warnings.simplefilter('ignore')
    result = tf.lite.Interpreter(
        model_content=model, model_path=path,
        experimental_op_resolver_type=(
            tf.lite.experimental.OpResolverType
            .BUILTIN_WITHOUT_DEFAULT_DELEGATES))
  result.allocate_tensors()
  return result


def float_ops(model):
  """The ops of `model` (bytes) that read or write a float tensor, as
  'OP_TYPE (output tensor name)' strings, in model order."""
  runner = interpreter(model)
  dtypes = {t['index']: t for t in runner.get_tensor_details()}
  found = []
  for op in runner._get_ops_details():  # pylint: disable=protected-access
    tensors = [dtypes[i] for i in list(op['inputs']) + list(op['outputs'])
               if i >= 0 and i in dtypes]
    if any(np.dtype(t['dtype']) not in [np.dtype(d) for d in INTEGER_TYPES]
           for t in tensors):
      outputs = [dtypes[i]['name'] for i in op['outputs'] if i in dtypes]
      found.append('%s (%s)' % (op['op_name'], ', '.join(outputs)))
  return found


# The ops that move values between float and integer: named apart, as
# they only surround the float ops that need them.
_CONVERSIONS = ('QUANTIZE (', 'DEQUANTIZE (')


def check_integer(model):
  """Raises UserError naming the float ops of `model` (bytes), if any."""
  found = float_ops(model)
  if not found:
    return
  computing = [op for op in found if not op.startswith(_CONVERSIONS)]
  named = computing or found
  shown = ', '.join(named[:5]) + (' and %d more' % (len(named) - 5)
                                  if len(named) > 5 else '')
  conversions = len(found) - len(computing)
  raise UserError(
      'the full-integer TFLite conversion would keep %d float op(s): %s%s; '
      'microcontrollers and the EdgeTPU cannot run them (use '
      '--tflite_quantize=dynamic or none for this network)' % (
          len(named), shown, ' (and %d QUANTIZE/DEQUANTIZE around them)' %
          conversions if computing and conversions else ''))


def _tensor_record(detail):
  scale, zero_point = detail['quantization']
  return {'name': detail['name'], 'dtype': np.dtype(detail['dtype']).name,
          'shape': [int(d) for d in detail['shape']], 'scale': float(scale),
          'zero_point': int(zero_point)}


def io_details(model):
  """{'input': ..., 'output': ...}: name, dtype, shape, scale and zero
  point of the model's (first) input and output tensors."""
  runner = interpreter(model)
  return {'input': _tensor_record(runner.get_input_details()[0]),
          'output': _tensor_record(runner.get_output_details()[0])}


def _beside(tflite_path, suffix):
  root, extension = os.path.splitext(tflite_path)
  return (root if extension == '.tflite' else tflite_path) + suffix


def labels_path(tflite_path):
  """Where the labels of a TFLite model go: `m.tflite` -> `m.labels.txt`
  (any other name: the name plus `.labels.txt`)."""
  return _beside(tflite_path, '.labels.txt')


def metadata_path(tflite_path):
  """Where the metadata of a TFLite model goes: `m.tflite` ->
  `m.metadata.json`."""
  return _beside(tflite_path, '.metadata.json')


def metadata(model, quantization, input_range=None, **facts):
  """The metadata record of `model` (bytes): its quantization ('none',
  'dynamic', 'int8'), its input and output tensors, the real value of
  their integers, the float range the input was quantized from, and
  `facts` (model name, labels file, calibration)."""
  record = {'quantization': quantization}
  record.update(io_details(model))
  record['real_value'] = '(integer - zero_point) * scale'
  if input_range is not None:
    record['input']['range'] = [float(v) for v in input_range]
  record.update(facts)
  return json.dumps(record, indent=2, sort_keys=True) + '\n'


class Model(object):
  """A .tflite image classifier run on float images, one at a time.

  Attributes:
    image_size, channels: the side and channels of its input.
    num_classes: its output width.
  """

  def __init__(self, path, flag='--tflite_file'):
    if not path or not os.path.isfile(path):
      raise UserError('%s %s does not exist' % (flag, path))
    try:
      self._runner = interpreter(None, path=path)
    except (ValueError, RuntimeError) as e:
      raise UserError('%s %s is not a TFLite model: %s' % (
          flag, path, str(e).strip().splitlines()[0] if str(e) else e))
    self._input = self._runner.get_input_details()[0]
    self._output = self._runner.get_output_details()[0]
    shape = list(self._input['shape'])
    if len(shape) != 4 or shape[1] != shape[2]:
      raise UserError('%s %s takes input of shape %s; an image classifier '
                      'takes [1, size, size, channels]' % (flag, path, shape))
    self.image_size, self.channels = int(shape[1]), int(shape[3])
    self.batch_size = int(shape[0])
    self.num_classes = int(self._output['shape'][-1])

  def _quantize(self, images):
    scale, zero_point = self._input['quantization']
    dtype = np.dtype(self._input['dtype'])
    if dtype == np.float32:
      return images.astype(np.float32)
    info = np.iinfo(dtype)
    values = np.round(images / scale) + zero_point
    return np.clip(values, info.min, info.max).astype(dtype)

  def _dequantize(self, values):
    scale, zero_point = self._output['quantization']
    if np.dtype(self._output['dtype']) == np.float32:
      return values.astype(np.float32)
    return (values.astype(np.float32) - zero_point) * scale

  def outputs(self, images):
    """float32 [n, num_classes] (the model's output, dequantized) of float
    images [n, size, size, channels]."""
    rows = []
    for start in range(0, len(images), self.batch_size):
      chunk = np.asarray(images[start:start + self.batch_size])
      count = len(chunk)
      if count < self.batch_size:  # A fixed batch: pad with the last image.
        chunk = np.concatenate([chunk] + [chunk[-1:]] *
                               (self.batch_size - count))
      self._runner.set_tensor(self._input['index'], self._quantize(chunk))
      self._runner.invoke()
      rows.append(self._dequantize(
          self._runner.get_tensor(self._output['index']))[:count])
    return np.concatenate(rows) if rows else np.zeros(
        (0, self.num_classes), np.float32)
