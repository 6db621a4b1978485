"""export_inference_graph.py: every format gives the checkpoint's numbers.

A cifarnet is trained for a few steps on a 2-class image folder (light top
half vs light bottom half, which it learns at once); its frozen graph,
SavedModel (loaded by plain TF2 in a subprocess, as serving would) and TFLite
model are compared with the checkpoint on the same input, and the classify
command names the right class from each. The real Visual Wake Words
checkpoint is exported where ../shared has it.
"""

import json
import os
import re
import subprocess
import sys

from google.protobuf import text_format
import numpy as np
from PIL import Image
import pytest
import tensorflow.compat.v1 as tf

from conftest import error_line, run_cli, shared_path
from slimvision.engines import checkpoints
from slimvision.engines import config as config_lib
from slimvision.engines import inference
from slimvision.engines import tflite
from slimvision.datasets import image_folder

CLASSES = ('bottom_light', 'top_light')
VWW_CHECKPOINT = ('checkpoints', 'mobilenet_v1_025_vww', 'model.ckpt-963849')


def halves_image(class_name, rng, size=32):
  """uint8 [size, size, 3]: dark noise with the top or bottom half lit."""
  pixels = rng.randint(0, 60, (size, size, 3))
  half = slice(0, size // 2) if class_name == 'top_light' else slice(
      size // 2, size)
  pixels[half] += 180
  return pixels.astype(np.uint8)


def write_halves_source(folder, train_per_class=16, validation_per_class=4,
                        seed=0):
  """SOURCE/{train,validation}/<class>/NNN.png; returns the folder."""
  rng = np.random.RandomState(seed)
  for split, count in (('train', train_per_class),
                       ('validation', validation_per_class)):
    for name in CLASSES:
      class_dir = os.path.join(folder, split, name)
      os.makedirs(class_dir)
      for i in range(count):
        Image.fromarray(halves_image(name, rng)).save(
            os.path.join(class_dir, '%03d.png' % i))
  return folder


@pytest.fixture(scope='module')
def halves(tmp_path_factory):
  """(dataset_dir, source_dir, train_dir) of a cifarnet trained 30 steps."""
  root = tmp_path_factory.mktemp('halves')
  source = write_halves_source(str(root / 'source'))
  dataset_dir = str(root / 'data')
  image_folder.convert('halves', source, dataset_dir, num_shards=1,
                       log=lambda *_: None)
  train_dir = str(root / 'train')
  result = run_cli(
      'train_image_classifier.py', '--dataset_name=halves',
      '--dataset_dir=' + dataset_dir, '--model_name=cifarnet',
      '--train_dir=' + train_dir, '--max_number_of_steps=30',
      '--batch_size=8', '--optimizer=sgd', '--learning_rate=0.05',
      '--seed=1')
  assert result.returncode == 0, result.stderr[-3000:]
  return dataset_dir, source, train_dir


@pytest.fixture(scope='module')
def exported(halves, tmp_path_factory):
  """Frozen graph, SavedModel and TFLite models of the halves checkpoint."""
  dataset_dir, _, train_dir = halves
  out = tmp_path_factory.mktemp('exported')
  paths = {'graph': str(out / 'graph.pb'), 'frozen': str(out / 'frozen.pb'),
           'saved_model': str(out / 'serving' / 'halves' / '1'),
           'tflite': str(out / 'model.tflite')}
  result = run_cli(
      'export_inference_graph.py', '--model_name=cifarnet',
      '--dataset_name=halves', '--dataset_dir=' + dataset_dir,
      '--checkpoint_path=' + train_dir, '--output_file=' + paths['graph'],
      '--frozen_graph_file=' + paths['frozen'],
      '--saved_model_dir=' + paths['saved_model'],
      '--tflite_file=' + paths['tflite'])
  assert result.returncode == 0, result.stderr[-3000:]
  paths['out'] = str(out)
  return paths


def _png_bytes(pixels):
  import io  # pylint: disable=g-import-not-at-top
  buffer = io.BytesIO()
  Image.fromarray(pixels).save(buffer, format='PNG')
  return buffer.getvalue()


def _checkpoint_outputs(checkpoint, model_name, num_classes, images=None,
                        encoded=None, moving_average_decay=None, **kwargs):
  """(logits, probabilities) of the checkpoint on float images or on
  encoded images (through the shared inference preprocessing)."""
  with tf.Graph().as_default(), tf.Session() as session:
    if encoded is not None:
      feed = tf.placeholder(tf.string, [None])
      inputs = inference.preprocess_encoded(feed, model_name, **kwargs)
      value = encoded
    else:
      feed = inputs = tf.placeholder(tf.float32, images.shape)
      value = images
    logits, probabilities = inference.build_logits_and_probabilities(
        inputs, model_name, num_classes)
    checkpoint = checkpoints.resolve(checkpoint)
    checkpoints.restorer(checkpoint, checkpoints.variables_to_restore(
        moving_average_decay)).restore(session, checkpoint)
    return session.run([logits, probabilities], {feed: value})


def _frozen_outputs(path, images):
  with tf.Graph().as_default(), tf.Session() as session:
    graph_def = inference.read_graph_def(path)
    logits, probabilities = tf.import_graph_def(
        graph_def, return_elements=['logits:0', 'probabilities:0'], name='')
    return session.run([logits, probabilities], {'input:0': images})


_TF2_LOADER = r'''
import json, sys
import numpy as np
import tensorflow as tf  # plain TF2, eager: as a serving client would load it
assert tf.executing_eagerly()
model_dir, images_file, out_file = sys.argv[1:4]
model = tf.saved_model.load(model_dir)
served = model.signatures['serving_default'](
    image_bytes=tf.constant([open(p, 'rb').read() for p in sys.argv[4:]]))
predicted = model.signatures['predict_images'](
    images=tf.constant(np.load(images_file)))
np.savez(out_file, **{'%s_%s' % (sig, key): value.numpy()
                      for sig, outputs in (('served', served),
                                           ('images', predicted))
                      for key, value in outputs.items()})
print(json.dumps(sorted(model.signatures)))
'''


def _load_in_tf2(saved_model, images, image_files, tmp_path):
  """The SavedModel's two signatures run by a fresh eager TF2 process."""
  np.save(str(tmp_path / 'images.npy'), images)
  out = str(tmp_path / 'outputs.npz')
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  result = subprocess.run(
      [sys.executable, '-c', _TF2_LOADER, saved_model,
       str(tmp_path / 'images.npy'), out] + list(image_files),
      capture_output=True, text=True, timeout=300, env=env, cwd=str(tmp_path))
  assert result.returncode == 0, result.stderr[-3000:]
  signatures = json.loads(result.stdout.strip().splitlines()[-1])
  return signatures, dict(np.load(out, allow_pickle=True))


def test_frozen_graph_and_saved_model_match_the_checkpoint(halves, exported,
                                                           tmp_path):
  dataset_dir, source, train_dir = halves
  images = np.random.RandomState(3).normal(
      size=(3, 32, 32, 3)).astype(np.float32)
  files = [os.path.join(source, 'validation', name, '000.png')
           for name in CLASSES]
  with open(files[0], 'rb') as f0, open(files[1], 'rb') as f1:
    encoded = [f0.read(), f1.read()]

  want_logits, want_probabilities = _checkpoint_outputs(
      train_dir, 'cifarnet', 2, images=images)
  served_logits, served_probabilities = _checkpoint_outputs(
      train_dir, 'cifarnet', 2, encoded=encoded)

  frozen_logits, frozen_probabilities = _frozen_outputs(exported['frozen'],
                                                        images)
  assert np.max(np.abs(frozen_logits - want_logits)) < 1e-5
  assert np.max(np.abs(frozen_probabilities - want_probabilities)) < 1e-5

  signatures, outputs = _load_in_tf2(exported['saved_model'], images, files,
                                     tmp_path)
  assert signatures == ['predict_images', 'serving_default']
  assert np.max(np.abs(outputs['images_logits'] - want_logits)) < 1e-5
  assert np.max(np.abs(outputs['images_probabilities'] -
                       want_probabilities)) < 1e-5
  assert np.max(np.abs(outputs['served_logits'] - served_logits)) < 1e-5
  assert np.max(np.abs(outputs['served_probabilities'] -
                       served_probabilities)) < 1e-5
  # The trained model tells the two classes apart, by id and by name.
  assert outputs['served_classes'].dtype == np.int64
  assert list(outputs['served_classes']) == [0, 1]
  assert [n.decode() for n in outputs['served_class_names']] == list(CLASSES)
  np.testing.assert_array_equal(outputs['images_classes'],
                                np.argmax(want_logits, axis=1))


def test_exports_leave_no_temporary_files(exported):
  assert sorted(os.listdir(exported['out'])) == [
      'frozen.pb', 'graph.pb', 'model.labels.txt', 'model.tflite',
      'serving']
  assert os.listdir(os.path.dirname(exported['saved_model'])) == ['1']
  assert tf.saved_model.contains_saved_model(exported['saved_model'])


def test_graph_without_checkpoint_keeps_variables_and_frozen_has_none(
    exported):
  def ops(path):
    return {node.op for node in inference.read_graph_def(path).node}
  assert ops(exported['graph']) & {'VariableV2', 'VarHandleOp'}
  assert not ops(exported['frozen']) & {'VariableV2', 'VarHandleOp'}
  assert inference.input_geometry(
      inference.read_graph_def(exported['frozen'])) == (32, 3)


def test_saved_model_can_be_exported_again_in_place(halves, exported):
  dataset_dir, _, train_dir = halves
  before = os.path.getmtime(os.path.join(exported['saved_model'],
                                         'saved_model.pb'))
  result = run_cli(
      'export_inference_graph.py', '--model_name=cifarnet',
      '--dataset_name=halves', '--dataset_dir=' + dataset_dir,
      '--checkpoint_path=' + train_dir,
      '--saved_model_dir=' + exported['saved_model'])
  assert result.returncode == 0, result.stderr[-3000:]
  assert os.path.getmtime(os.path.join(exported['saved_model'],
                                       'saved_model.pb')) >= before
  assert os.listdir(os.path.dirname(exported['saved_model'])) == ['1']


def _preprocessed(pixels):
  """float32 [1, 32, 32, 3]: uint8 pixels through cifarnet's inference
  preprocessing, as the exported models' callers feed them."""
  with tf.Graph().as_default(), tf.Session() as session:
    feed = tf.placeholder(tf.string, [None])
    return session.run(inference.preprocess_encoded(feed, 'cifarnet'),
                       {feed: [_png_bytes(pixels)]})


def test_tflite_float_and_dynamic_range_quantized(halves, exported, tmp_path):
  dataset_dir, _, train_dir = halves
  # Noise checks the float model to 1e-4; real images of both classes, on
  # which the checkpoint is confident, check the quantized model's classes.
  # (On noise the two classes tie to 0.001, below 8-bit weight error.)
  noise = np.random.RandomState(4).normal(
      size=(1, 32, 32, 3)).astype(np.float32)
  rng = np.random.RandomState(5)
  images = [noise] + [_preprocessed(halves_image(name, rng))
                      for name in CLASSES]
  want = [_checkpoint_outputs(train_dir, 'cifarnet', 2, images=image)[1]
          for image in images]

  def run_tflite(path, image):
    interpreter = tf.lite.Interpreter(model_path=path)
    interpreter.allocate_tensors()
    (given,), (output,) = (interpreter.get_input_details(),
                           interpreter.get_output_details())
    assert list(given['shape']) == [1, 32, 32, 3]
    interpreter.set_tensor(given['index'], image)
    interpreter.invoke()
    return interpreter.get_tensor(output['index'])

  for image, expected in zip(images, want):
    assert np.max(np.abs(run_tflite(exported['tflite'], image) -
                         expected)) < 1e-4
  quantized = str(tmp_path / 'quantized.tflite')
  result = run_cli(
      'export_inference_graph.py', '--model_name=cifarnet',
      '--dataset_name=halves', '--dataset_dir=' + dataset_dir,
      '--checkpoint_path=' + train_dir, '--tflite_file=' + quantized,
      '--tflite_quantize')
  assert result.returncode == 0, result.stderr[-3000:]
  # 8-bit weights: about a quarter of the float model.
  assert os.path.getsize(quantized) < 0.35 * os.path.getsize(
      exported['tflite'])
  for label, (image, expected) in enumerate(zip(images[1:], want[1:])):
    got = run_tflite(quantized, image)
    np.testing.assert_allclose(got.sum(), 1.0, rtol=1e-4)
    assert np.argmax(expected) == label, expected
    assert np.argmax(got) == label, (got, expected)
    assert np.max(np.abs(got - expected)) < 0.05


def _top1(result):
  assert result.returncode == 0, result.stderr[-3000:]
  lines = result.stdout.splitlines()
  return [lines[i + 1].split()[0] for i in range(0, len(lines), 3)]


@pytest.mark.parametrize('source', ['checkpoint', 'saved_model', 'frozen'])
def test_classify_names_the_trained_class(halves, exported, source):
  dataset_dir, source_dir, train_dir = halves
  model = {'checkpoint': '--checkpoint_path=' + train_dir,
           'saved_model': '--saved_model_dir=' + exported['saved_model'],
           'frozen': '--frozen_graph=' + exported['frozen']}[source]
  files = [os.path.join(source_dir, 'validation', name, '%03d.png' % i)
           for name in CLASSES for i in (1, 2)]
  args = ['--model_name=cifarnet', model, '--top_k=2'] + files
  if source != 'saved_model':  # The SavedModel carries its class names.
    args.insert(0, '--dataset_dir=' + dataset_dir)
  assert _top1(run_cli('classify_image.py', *args)) == [
      'bottom_light', 'bottom_light', 'top_light', 'top_light']


def test_classify_takes_folders_and_other_formats_and_names_bad_files(
    halves, tmp_path):
  dataset_dir, source_dir, train_dir = halves
  folder = os.path.join(source_dir, 'validation', 'top_light')
  in_folder = sorted(os.path.join(folder, f) for f in os.listdir(folder))
  tiff = str(tmp_path / 'bottom.tif')  # No format TensorFlow decodes.
  Image.open(os.path.join(source_dir, 'validation', 'bottom_light',
                          '001.png')).save(tiff)
  broken = str(tmp_path / 'broken.jpg')
  with open(broken, 'wb') as f:
    f.write(b'\xff\xd8\xff\xe0 no more')
  result = run_cli('classify_image.py', '--model_name=cifarnet',
                   '--checkpoint_path=' + train_dir,
                   '--dataset_dir=' + dataset_dir, '--top_k=1', folder,
                   broken, tiff)
  # The readable images are classified and printed; the bad file is named
  # after them and the exit status says the input was not all honoured.
  assert result.returncode == 2
  lines = result.stdout.splitlines()
  assert lines[0::2] == in_folder + [tiff]
  assert [line.split()[0] for line in lines[1::2]] == (
      ['top_light'] * len(in_folder) + ['bottom_light'])
  assert error_line(result) == (
      'error: 1 of %d file(s) could not be read as images, so were not '
      'classified: %s (Truncated File Read)' % (len(in_folder) + 2, broken))


def test_classify_feeds_a_fixed_batch_export_in_batches(halves, tmp_path):
  dataset_dir, source_dir, train_dir = halves
  export = str(tmp_path / 'batch2' / '1')
  result = run_cli('export_inference_graph.py', '--model_name=cifarnet',
                   '--dataset_name=halves', '--dataset_dir=' + dataset_dir,
                   '--checkpoint_path=' + train_dir, '--batch_size=2',
                   '--saved_model_dir=' + export)
  assert result.returncode == 0, result.stderr[-3000:]
  files = [os.path.join(source_dir, 'validation', name, '%03d.png' % i)
           for name, i in (('top_light', 1), ('bottom_light', 1),
                           ('top_light', 2))]
  assert _top1(run_cli('classify_image.py', '--saved_model_dir=' + export,
                       *files)) == ['top_light', 'bottom_light', 'top_light']


def test_saved_model_keeps_the_central_crop_it_was_exported_with(halves,
                                                                  tmp_path):
  dataset_dir, _, train_dir = halves
  export = str(tmp_path / 'whole' / '1')
  result = run_cli('export_inference_graph.py', '--model_name=cifarnet',
                   '--preprocessing_name=inception',
                   '--central_crop_fraction=1', '--dataset_name=halves',
                   '--dataset_dir=' + dataset_dir,
                   '--checkpoint_path=' + train_dir,
                   '--saved_model_dir=' + export)
  assert result.returncode == 0, result.stderr[-3000:]
  # Only the top 2 of 32 rows are lit: the default crop (0.875, the central
  # 28 rows) cuts them off, the whole image keeps them.
  pixels = np.full((32, 32, 3), 30, np.uint8)
  pixels[:2] = 250
  png = [_png_bytes(pixels)]
  with tf.Graph().as_default(), tf.Session() as session:
    encoded, probabilities, _ = inference.load_saved_model(session, export)
    served = session.run(probabilities, {encoded: png})
  _, whole = _checkpoint_outputs(train_dir, 'cifarnet', 2, encoded=png,
                                 preprocessing_name='inception',
                                 central_crop_fraction=1.0)
  _, cropped = _checkpoint_outputs(train_dir, 'cifarnet', 2, encoded=png,
                                   preprocessing_name='inception')
  np.testing.assert_allclose(served, whole, atol=1e-5)
  assert np.abs(whole - cropped).max() > 1e-3, (whole, cropped)
  # classify_image.py from the checkpoint crops as it is told.
  image_file = tmp_path / 'top_rows.png'
  image_file.write_bytes(png[0])
  for fraction, expected in ((1.0, whole), (None, cropped)):
    (_, top), = inference.classify(config_lib.ClassifyConfig(
        images=[str(image_file)], checkpoint_path=train_dir,
        model_name='cifarnet', preprocessing_name='inception',
        central_crop_fraction=fraction, dataset_dir=dataset_dir))
    np.testing.assert_allclose(dict(top)['top_light'], expected[0, 1],
                               atol=1e-5)
  # Classify cannot change what the SavedModel was exported with.
  refused = run_cli('classify_image.py', '--saved_model_dir=' + export,
                    '--central_crop_fraction=0.5', __file__)
  assert refused.returncode == 2
  assert error_line(refused).startswith(
      'error: --central_crop_fraction applies to --checkpoint_path and '
      '--frozen_graph: a SavedModel keeps the preprocessing it was exported '
      'with')


def test_classify_needs_exactly_one_model(halves, exported):
  dataset_dir, source_dir, train_dir = halves
  image = os.path.join(source_dir, 'validation', 'top_light', '000.png')
  result = run_cli('classify_image.py', '--checkpoint_path=' + train_dir,
                      '--saved_model_dir=' + exported['saved_model'], image)
  assert result.returncode == 2
  assert 'give exactly one of --checkpoint_path' in error_line(result)


def _graph_input_and_outputs(path, text=False):
  with open(path, 'rb') as f:
    data = f.read()
  if text:
    graph_def = text_format.Parse(data.decode('utf-8'), tf.GraphDef())
  else:
    graph_def = tf.GraphDef.FromString(data)
  node = [n for n in graph_def.node if n.name == 'input'][0]
  shape = [d.size for d in node.attr['shape'].shape.dim]
  with tf.Graph().as_default():
    probabilities, = tf.import_graph_def(
        graph_def, return_elements=['probabilities:0'], name='')
    return node.op, node.attr['dtype'].type, shape, (
        probabilities.shape.as_list())


def test_text_graphdef_has_the_input_placeholder(tmp_path):
  path = str(tmp_path / 'cifarnet.pbtxt')
  result = run_cli('export_inference_graph.py', '--model_name=cifarnet',
                      '--num_classes=7', '--batch_size=2', '--image_size=40',
                      '--write_text_graphdef', '--output_file=' + path)
  assert result.returncode == 0, result.stderr[-3000:]
  with open(path) as f:
    assert f.read().startswith('node {')
  assert _graph_input_and_outputs(path, text=True) == (
      'Placeholder', tf.float32.as_datatype_enum, [2, 40, 40, 3], [2, 7])


def test_grayscale_export_takes_one_channel(tmp_path):
  # No dataset at hand: ImageNet's 1001 classes, as TF-Slim exported them.
  path = str(tmp_path / 'lenet.pb')
  result = run_cli('export_inference_graph.py', '--model_name=lenet',
                      '--use_grayscale', '--output_file=' + path)
  assert result.returncode == 0, result.stderr[-3000:]
  assert _graph_input_and_outputs(path) == (
      'Placeholder', tf.float32.as_datatype_enum, [-1, 28, 28, 1],
      [None, 1001])


def test_video_model_export_has_a_5d_input(tmp_path):
  path = str(tmp_path / 'i3d.pb')
  result = run_cli('export_inference_graph.py', '--model_name=i3d',
                      '--is_video_model', '--num_frames=8',
                      '--image_size=32', '--batch_size=1', '--num_classes=3',
                      '--output_file=' + path)
  assert result.returncode == 0, result.stderr[-3000:]
  assert _graph_input_and_outputs(path) == (
      'Placeholder', tf.float32.as_datatype_enum, [1, 8, 32, 32, 3], [1, 3])


@pytest.mark.parametrize('args, message', [
    (['--model_name=cifarnet', '--checkpoint_path=TRAIN', '--quantize',
      '--frozen_graph_file=OUT/f.pb'],
     r'lacks \d+ of the model\'s \d+ variables, e\.g\. CifarNet/\w+/'
     r'(act|weights)_quant/\w+.* \(was it trained with --quantize_delay\?'),
    (['--model_name=cifarnet', '--checkpoint_path=TRAIN', '--quantize',
      '--tflite_file=OUT/m.tflite'],
     r'--quantize --tflite_file needs the range of the input images, and '
     r'the cifarnet preprocessing of cifarnet has no fixed one'),
    (['--model_name=cifarnet', '--checkpoint_path=TRAIN',
      '--tflite_file=OUT/m.tflite', '--tflite_quantize=int8'],
     r'--tflite_quantize=int8 calibrates the activation ranges on images: '
     r'give --dataset_dir'),
    (['--model_name=cifarnet', '--checkpoint_path=TRAIN',
      '--output_file=OUT/g.pb', '--tflite_quantize=dynamic'],
     r'--tflite_quantize=dynamic needs --tflite_file'),
    (['--model_name=cifarnet', '--checkpoint_path=TRAIN',
      '--tflite_file=OUT/m.tflite', '--tflite_quantize=int4'],
     r'value should be one of <none\|dynamic\|int8>'),
    (['--model_name=cifarnet', '--num_classes=5', '--checkpoint_path=TRAIN',
      '--frozen_graph_file=OUT/f.pb'],
     r'does not fit the model: CifarNet/logits/\w+ has shape \[.*2\] there '
     r'but \[.*5\] in the model'),
    (['--model_name=resnet_v9', '--output_file=OUT/g.pb'],
     r"Unknown model name 'resnet_v9'; valid names: alexnet_v2"),
    (['--model_name=cifarnet', '--num_classes=2',
      '--saved_model_dir=OUT/sm'],
     r'--saved_model_dir needs --checkpoint_path'),
    (['--model_name=i3d', '--is_video_model', '--output_file=OUT/g.pb'],
     r'--is_video_model needs --num_frames'),
    (['--model_name=cifarnet', '--num_classes=2'],
     r'nothing to export'),
    (['--model_name=cifarnet', '--num_classes=2', '--output_file=OUT/g.pb',
      '--central_crop_fraction=1'],
     r"--central_crop_fraction sets the preprocessing of the SavedModel's "
     r'image_bytes input and of the --tflite_quantize=int8 calibration '
     r'images: give --saved_model_dir or those'),
    (['--model_name=cifarnet', '--checkpoint_path=TRAIN',
      '--saved_model_dir=OUT/sm', '--central_crop_fraction=1'],
     r'^error: --central_crop_fraction applies to the inception '
     r'preprocessing; cifarnet uses the cifarnet preprocessing$'),
])
def test_bad_input_is_one_clear_line(halves, tmp_path, args, message):
  args = [a.replace('TRAIN', halves[2]).replace('OUT', str(tmp_path))
          for a in args]
  result = run_cli('export_inference_graph.py', *args)
  assert result.returncode == 2, result.stderr[-3000:]
  assert re.search(message, error_line(result)), result.stderr[-2000:]
  assert os.listdir(str(tmp_path)) == []


# ----------------------------------------------------------------------------
# The classic tools: TensorFlow's freeze_graph and research/slim's op names.


def _run_graph(graph_def, images, outputs):
  """The values of op names `outputs` of a frozen GraphDef fed `images`."""
  with tf.Graph().as_default(), tf.Session() as session:
    tensors = tf.import_graph_def(
        graph_def, return_elements=[name + ':0' for name in outputs], name='')
    return session.run(tensors, {'input:0': images})


def test_exported_graph_is_frozen_by_tensorflows_freeze_graph(
    shapes_dir, mobilenet_train_dir, tmp_path):
  from tensorflow.python.tools import freeze_graph
  # The shared checkpoint (trained at 32 px) serves at 64 px: no variable
  # of mobilenet_v1 depends on the image size.
  train_dir = mobilenet_train_dir
  checkpoint = tf.train.latest_checkpoint(train_dir)
  graph, ours = str(tmp_path / 'graph.pb'), str(tmp_path / 'ours.pb')
  result = run_cli(
      'export_inference_graph.py', '--model_name=mobilenet_v1_025',
      '--dataset_name=shapes', '--dataset_dir=' + shapes_dir,
      '--image_size=64', '--checkpoint_path=' + train_dir,
      '--output_file=' + graph, '--frozen_graph_file=' + ours)
  assert result.returncode == 0, result.stderr[-3000:]
  # Reference variables, which freeze_graph reads; it fails on resource ones.
  ops = {node.op for node in inference.read_graph_def(graph).node}
  assert 'VariableV2' in ops and 'VarHandleOp' not in ops

  classic = 'MobilenetV1/Predictions/Reshape_1'
  frozen = str(tmp_path / 'frozen.pb')
  freeze_graph.freeze_graph(
      input_graph=graph, input_saver='', input_binary=True,
      input_checkpoint=checkpoint, output_node_names=classic,
      restore_op_name='', filename_tensor_name='', output_graph=frozen,
      clear_devices=True, initializer_nodes='')
  images = np.random.RandomState(6).normal(
      size=(2, 64, 64, 3)).astype(np.float32)
  want_logits, want = _checkpoint_outputs(train_dir, 'mobilenet_v1_025', 6,
                                          images=images)
  assert want.shape == (2, 6)
  got, = _run_graph(inference.read_graph_def(frozen), images, [classic])
  assert np.max(np.abs(got - want)) < 1e-5
  # Our own frozen graph answers under both names, and the classic logits.
  names = ['probabilities', classic, 'logits',
           'MobilenetV1/Logits/SpatialSqueeze']
  probabilities, slim_probabilities, logits, slim_logits = _run_graph(
      inference.read_graph_def(ours), images, names)
  for value in (probabilities, slim_probabilities):
    assert np.max(np.abs(value - want)) < 1e-5
  for value in (logits, slim_logits):
    assert np.max(np.abs(value - want_logits)) < 1e-4


# model -> (research/slim's logits op, its softmax op or None), as in README:
# one model per way of naming them (mobilenet_v1: the freeze_graph test).
CLASSIC_NAMES = {
    'cifarnet': ('CifarNet/logits/BiasAdd', 'CifarNet/Predictions/Reshape_1'),
    'inception_v1': ('InceptionV1/Logits/SpatialSqueeze',
                     'InceptionV1/Logits/Predictions/Reshape_1'),
    'inception_v4': ('InceptionV4/Logits/Logits/BiasAdd',
                     'InceptionV4/Logits/Predictions'),
    'mobilenet_v2_035': ('MobilenetV2/Logits/output',
                         'MobilenetV2/Predictions/Reshape_1'),
    'resnet_v1_50': ('resnet_v1_50/SpatialSqueeze',
                     'resnet_v1_50/predictions/Reshape_1'),
    'vgg_a': ('vgg_a/fc8/squeezed', None),
}


@pytest.mark.parametrize('model_name', sorted(CLASSIC_NAMES))
def test_graph_keeps_research_slims_output_names(model_name):
  with tf.Graph().as_default() as graph:
    # 112: the auxiliary head of inception_v4 needs 5x5 Mixed_6h (~107 px).
    size = 224 if model_name.startswith('vgg') else 112
    images = tf.placeholder(tf.float32, [1, size, size, 3], name='input')
    _, _, names = inference.build_with_output_names(images, model_name, 5)
    logits, predictions = CLASSIC_NAMES[model_name]
    assert names == ['logits', 'probabilities', logits] + (
        [predictions] if predictions else [])
    for name in names:
      assert graph.get_operation_by_name(name).outputs[0].shape.as_list() == [
          1, 5]


# ----------------------------------------------------------------------------
# The real Visual Wake Words checkpoint (skips where ../shared lacks it).


def _vww_checkpoint():
  index = shared_path(*VWW_CHECKPOINT[:-1], VWW_CHECKPOINT[-1] + '.index')
  return index[:-len('.index')]


def test_vww_checkpoint_restores_every_variable_from_its_averages():
  checkpoint = _vww_checkpoint()
  shapes = checkpoints.variable_shapes(checkpoint)
  with tf.Graph().as_default(), tf.Session() as session:
    images = tf.placeholder(tf.float32, [1, 96, 96, 1])
    inference.build_logits_and_probabilities(images, 'mobilenet_v1_025', 2)
    var_map = checkpoints.variables_to_restore(0.9999)
    # Every model variable (batch-norm statistics too) has its shadow.
    model_names = {v.op.name for v in tf.model_variables()}
    assert len(model_names) == 137
    assert {n for n in var_map if n != 'global_step'} == {
        n + '/ExponentialMovingAverage' for n in model_names}
    assert {n for n in shapes if not n.endswith(
        ('/RMSProp', '/RMSProp_1', '/ExponentialMovingAverage'))} == (
            model_names | {'global_step'})
    checkpoints.restorer(checkpoint, var_map).restore(session, checkpoint)
    name = 'MobilenetV1/Logits/Conv2d_1c_1x1/biases'
    restored = session.run(var_map[name + '/ExponentialMovingAverage'])
    assert session.run(tf.train.get_global_step()) == 963849
  shadow = tf.train.load_variable(checkpoint,
                                  name + '/ExponentialMovingAverage')
  np.testing.assert_array_equal(restored, shadow)
  assert not np.array_equal(shadow, tf.train.load_variable(checkpoint, name))


def test_vww_checkpoint_exports_and_classifies(tmp_path):
  checkpoint = _vww_checkpoint()
  frozen = str(tmp_path / 'vww.pb')
  saved_model = str(tmp_path / 'vww' / '1')
  result = run_cli(
      'export_inference_graph.py', '--model_name=mobilenet_v1_025',
      '--checkpoint_path=' + checkpoint, '--use_grayscale',
      '--moving_average_decay=0.9999', '--image_size=96', '--num_classes=2',
      '--frozen_graph_file=' + frozen, '--saved_model_dir=' + saved_model)
  assert result.returncode == 0, result.stderr[-3000:]
  assert inference.input_geometry(inference.read_graph_def(frozen)) == (96, 1)

  rng = np.random.RandomState(5)
  image = str(tmp_path / 'scene.png')
  Image.fromarray(rng.randint(0, 256, (120, 160, 3)).astype(
      np.uint8)).save(image)
  with open(image, 'rb') as f:
    encoded = [f.read()]
  _, want = _checkpoint_outputs(
      checkpoint, 'mobilenet_v1_025', 2, encoded=encoded,
      moving_average_decay=0.9999, image_size=96, use_grayscale=True)
  printed = {}
  for model in ('--frozen_graph=' + frozen, '--saved_model_dir=' + saved_model,
                '--checkpoint_path=' + checkpoint):
    result = run_cli('classify_image.py', '--model_name=mobilenet_v1_025',
                        model, '--top_k=2', '--use_grayscale',
                        '--image_size=96', '--moving_average_decay=0.9999',
                        '--num_classes=2', image)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == image and len(lines) == 3
    printed[model] = {line.split()[0]: float(line.split()[1])
                      for line in lines[1:]}
  for top in printed.values():
    assert set(top) == {'0', '1'}
    assert abs(sum(top.values()) - 1) <= 2e-4
    for label, probability in top.items():
      assert abs(probability - want[0][int(label)]) <= 6e-5


def test_vww_checkpoint_exports_to_a_full_int8_model(tmp_path):
  """The real person detector, full-int8 for TensorFlow Lite Micro: every
  tensor int8/int32, 96x96x1 input, and its person probability within 0.1
  of the float checkpoint's on >= 95% of 200 images it was not calibrated
  on (synthetic shapes images, as 96 px grayscale: 100% of them in our
  runs; satellite validation images, far from its domain, 92.5%)."""
  from slimvision.datasets import shapes
  checkpoint = _vww_checkpoint()
  data = str(tmp_path / 'shapes')
  shapes.download_and_convert(data, train_per_class=20,
                              validation_per_class=34, log=lambda *_: None)
  model = str(tmp_path / 'vww_int8.tflite')
  result = run_cli(
      'export_inference_graph.py', '--model_name=mobilenet_v1_025',
      '--checkpoint_path=' + checkpoint, '--use_grayscale',
      '--moving_average_decay=0.9999', '--image_size=96', '--num_classes=2',
      '--dataset_name=shapes', '--dataset_dir=' + data,
      '--tflite_file=' + model, '--tflite_quantize=int8')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Calibrated on the 120 images of shapes/train' in result.stderr
  interpreter = tflite.interpreter(None, path=model)
  assert {np.dtype(t['dtype']).name for t in
          interpreter.get_tensor_details()} == {'int8', 'int32'}
  assert list(interpreter.get_input_details()[0]['shape']) == [1, 96, 96, 1]

  # 200 validation images: none among the 120 calibrated on.
  folder = os.path.join(data, 'images', 'validation')
  paths = sorted(os.path.join(folder, name, f)
                 for name in os.listdir(folder)
                 for f in os.listdir(os.path.join(folder, name)))[:200]
  encoded = []
  for path in paths:
    with open(path, 'rb') as f:
      encoded.append(f.read())
  _, want = _checkpoint_outputs(
      checkpoint, 'mobilenet_v1_025', 2, encoded=encoded,
      moving_average_decay=0.9999, image_size=96, use_grayscale=True)
  with tf.Graph().as_default(), tf.Session() as session:
    feed = tf.placeholder(tf.string, [None])
    images = session.run(inference.preprocess_encoded(
        feed, 'mobilenet_v1_025', 96, use_grayscale=True), {feed: encoded})
  got = tflite.Model(model).outputs(images)
  close = np.abs(got[:, 1] - want[:, 1]) <= 0.1
  assert close.mean() >= 0.95, (close.mean(), np.abs(got - want).max())


def test_a_network_registered_by_the_user_is_exported(tmp_path):
  import tf_slim as slim
  from slimvision.nets import nets_factory

  def tiny_net(images, num_classes=10, is_training=False, scope='Tiny'):
    del is_training
    with tf.variable_scope(scope):
      net = slim.conv2d(images, 4, [3, 3], scope='conv1')
      net = tf.reduce_mean(net, [1, 2])
      logits = slim.fully_connected(net, num_classes, activation_fn=None,
                                    scope='logits')
    return logits, {'Logits': logits}

  tiny_net.default_image_size = 40

  def tiny_arg_scope(weight_decay=0.0):
    with slim.arg_scope([slim.conv2d], weights_regularizer=slim.l2_regularizer(
        weight_decay)) as scope:
      return scope

  nets_factory.register_model('tiny_net', tiny_net, tiny_arg_scope,
                              preprocessing='vgg')
  try:
    graph_file = str(tmp_path / 'tiny.pb')
    result = run_cli('export_inference_graph.py', '--model_name=tiny_net',
                     '--num_classes=3', '--output_file=' + graph_file)
  finally:
    nets_factory.unregister_model('tiny_net')
  assert result.returncode == 0, result.stderr[-2000:]
  graph_def = tf.GraphDef()
  with open(graph_file, 'rb') as f:
    graph_def.ParseFromString(f.read())
  nodes = {node.name: node for node in graph_def.node}
  dims = [d.size for d in nodes['input'].attr['shape'].shape.dim]
  assert dims == [-1, 40, 40, 3]
  assert 'Tiny/conv1/weights' in nodes and 'probabilities' in nodes
