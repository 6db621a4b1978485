"""The command-line scripts end to end, and their errors for bad input."""

import glob
import os
import re

import pytest
import tensorflow.compat.v1 as tf

from conftest import error_line, run_cli, run_script


def _event_tags(folder):
  tags = set()
  for path in glob.glob(os.path.join(folder, 'events.out.tfevents.*')):
    for event in tf.train.summary_iterator(path):
      tags.update(value.tag for value in event.summary.value)
  return tags


def _tag_steps(folder, tag):
  steps = set()
  for path in glob.glob(os.path.join(folder, 'events.out.tfevents.*')):
    for event in tf.train.summary_iterator(path):
      if any(value.tag == tag for value in event.summary.value):
        steps.add(event.step)
  return sorted(steps)


@pytest.fixture(scope='module')
def trained(shapes_dir, tmp_path_factory):
  train_dir = str(tmp_path_factory.mktemp('train'))
  # One run in a process of its own, as a shell would start it (forked
  # with TensorFlow imported: processes.py); the others call run().
  result = run_script(
      'train_image_classifier.py', '--dataset_name=shapes',
      '--dataset_dir=' + shapes_dir, '--model_name=cifarnet',
      '--train_dir=' + train_dir, '--max_number_of_steps=12',
      '--batch_size=8', '--log_every_n_steps=4', '--save_summaries_steps=5',
      '--optimizer=sgd', '--learning_rate=0.01', '--seed=1')
  assert result.returncode == 0, result.stderr
  return train_dir, result


def test_train_writes_checkpoints_summaries_and_progress(trained):
  train_dir, result = trained
  assert tf.train.latest_checkpoint(train_dir).endswith('model.ckpt-12')
  assert re.search(r'global step 4: loss = .* sec/step\) 33%, ',
                   result.stderr)
  assert 'images/sec' in result.stderr and 'ETA' in result.stderr
  # --precision=auto: fp32, or bf16 on a CPU where cifarnet was measured
  # faster in it (engines/precision.py).
  assert re.search(r'Training cifarnet on shapes/train \(48 examples, 6 '
                   r'classes\) at 32 px: batch 8, 12 steps, (fp32|bf16), '
                   r'from scratch in', result.stderr)
  # The first step, at once.
  assert 'global step 1: loss = ' in result.stderr
  assert re.search(r'global step 12: loss = .* sec/step\) 100%, ',
                   result.stderr)
  tags = _event_tags(train_dir)
  for tag in ('total_loss', 'learning_rate', 'activations/Logits',
              'sparsity/conv1', 'CifarNet/conv1/weights',
              'Losses/clone_loss', 'Losses/regularization_loss'):
    assert tag in tags, tag
  # Every 5 steps, and always at the last one.
  assert _tag_steps(train_dir, 'total_loss') == [1, 6, 11, 12]
  assert any(t.startswith('losses/') for t in tags)
  assert any(t.startswith('images') for t in tags)


def test_eval_scores_every_example_and_writes_summaries(trained, shapes_dir,
                                                        tmp_path):
  train_dir, _ = trained
  result = run_cli(
      'eval_image_classifier.py', '--dataset_name=shapes',
      '--dataset_split_name=validation', '--dataset_dir=' + shapes_dir,
      '--model_name=cifarnet', '--checkpoint_path=' + train_dir,
      '--eval_dir=' + str(tmp_path), '--batch_size=5')
  assert result.returncode == 0, result.stderr
  assert 'Scored 12 examples' in result.stdout
  assert 'Accuracy: ' in result.stdout and 'Recall_5: ' in result.stdout
  assert 'Confusion matrix' in result.stdout and 'triangle' in result.stdout
  assert {'eval/Accuracy', 'eval/Recall_5',
          'eval/confusion_matrix'} <= _event_tags(str(tmp_path))
  limited = run_cli(
      'eval_image_classifier.py', '--dataset_name=shapes',
      '--dataset_split_name=validation', '--dataset_dir=' + shapes_dir,
      '--model_name=cifarnet', '--checkpoint_path=' + train_dir,
      '--eval_dir=' + str(tmp_path), '--batch_size=5', '--max_num_batches=2')
  assert 'Scored 10 examples' in limited.stdout


def test_classify_prints_top_classes(trained, shapes_dir):
  train_dir, _ = trained
  image = os.path.join(shapes_dir, 'images', 'validation', 'ring', '00000.png')
  result = run_cli('classify_image.py', '--model_name=cifarnet',
                      '--checkpoint_path=' + train_dir,
                      '--dataset_dir=' + shapes_dir, '--top_k=3', image)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert lines[0] == image and len(lines) == 4
  names = {line.split()[0] for line in lines[1:]}
  assert names <= {'circle', 'cross', 'ring', 'square', 'star', 'triangle'}
  probabilities = [float(line.split()[1]) for line in lines[1:]]
  assert probabilities == sorted(probabilities, reverse=True)


@pytest.mark.parametrize('script, args, message', [
    ('train_image_classifier.py', ['--dataset_name=shapes', '--model_name=x'],
     "Unknown model name 'x'; valid names: alexnet_v2"),
    ('train_image_classifier.py', ['--dataset_name=nope',
                                   '--model_name=cifarnet'],
     "Unknown dataset name 'nope'"),
    ('train_image_classifier.py', ['--dataset_name=shapes',
                                   '--dataset_split_name=test',
                                   '--model_name=cifarnet'],
     "Unknown split 'test'.*valid splits: train, validation"),
    ('train_image_classifier.py', ['--dataset_name=shapes',
                                   '--model_name=cifarnet',
                                   '--preprocessing_name=fancy'],
     "Unknown preprocessing name 'fancy'; valid names: alexnet_v2, cifarnet"),
    ('train_image_classifier.py', ['--dataset_name=shapes',
                                   '--model_name=cifarnet',
                                   '--quantize_delay=-2'],
     r'--quantize_delay must be -1 \(no quantization-aware training\) or a '
     r'step count \(0: from the start\), got -2'),
    ('train_image_classifier.py', ['--dataset_name=shapes',
                                   '--model_name=mobilenet_v1_025',
                                   '--batch_norm_decay=1.5'],
     r'--batch_norm_decay must be in \[0, 1\), got 1.5'),
    ('train_image_classifier.py', ['--dataset_name=shapes',
                                   '--model_name=cifarnet',
                                   '--batch_norm_decay=0.9'],
     '--batch_norm_decay: cifarnet takes no batch-norm decay'),
    ('train_image_classifier.py', ['--dataset_name=shapes',
                                   '--model_name=mobilenet_v1_025',
                                   '--min_crop_area=0'],
     r'--min_crop_area must be in \(0, 1\], got 0'),
    ('train_image_classifier.py', ['--dataset_name=shapes',
                                   '--model_name=cifarnet',
                                   '--nocolor_distortion'],
     '--min_crop_area, --nocolor_distortion and --random_rotate_90 apply to '
     'the inception preprocessing; cifarnet uses the cifarnet preprocessing'),
    ('eval_image_classifier.py', ['--dataset_name=shapes',
                                  '--model_name=cifarnet', '--quantize',
                                  '--tflite_file=' + __file__],
     '--quantize builds the quantization-aware graph of a checkpoint; a '
     '--tflite_file is scored as it is'),
    ('eval_image_classifier.py', ['--dataset_name=shapes',
                                  '--model_name=cifarnet',
                                  '--tflite_file=/no/such.tflite'],
     r'--tflite_file /no/such.tflite does not exist'),
    ('eval_image_classifier.py', ['--dataset_name=shapes',
                                  '--dataset_split_name=validation',
                                  '--model_name=lenet',
                                  '--checkpoint_path=TRAIN'],
     'does not fit the model: LeNet/conv1/weights|lacks'),
    ('eval_image_classifier.py', ['--dataset_name=shapes',
                                  '--model_name=cifarnet',
                                  '--eval_image_size=-5'],
     '--eval_image_size must be positive, got -5'),
    ('train_image_classifier.py', ['--dataset_name=shapes',
                                   '--model_name=cifarnet',
                                   '--labels_offset=6'],
     r'--labels_offset=6 leaves no classes: shapes has 6 \(labels 0-5\)'),
    ('classify_image.py', ['--model_name=cifarnet', '--image_size=-5',
                           '--checkpoint_path=TRAIN', 'x.png'],
     '--image_size must be positive, got -5'),
    ('train_image_classifier.py', ['--dataset_name=shapes',
                                   '--model_name=lenet',
                                   '--train_image_size=2',
                                   '--train_dir=TRAIN/too_small'],
     r'^error: --train_image_size=2 is too small for lenet: its layers '
     r'shrink the image to nothing \(at LeNet/pool2\); its default image '
     r'size is 28 px$'),
    ('eval_image_classifier.py', ['--dataset_name=shapes',
                                  '--dataset_split_name=validation',
                                  '--model_name=lenet', '--eval_image_size=3',
                                  '--checkpoint_path=TRAIN'],
     r'^error: --eval_image_size=3 is too small for lenet: '),
])
def test_bad_input_is_one_clear_line(shapes_dir, trained, script, args,
                                     message):
  args = [a.replace('TRAIN', trained[0]) for a in args]
  result = run_cli(script, '--dataset_dir=' + shapes_dir, *args)
  assert result.returncode == 2
  assert re.search(message, error_line(result)), (
      result.stderr[-2000:])


def test_missing_and_empty_dataset_dir(tmp_path):
  missing = run_cli('train_image_classifier.py', '--dataset_name=shapes',
                       '--model_name=cifarnet',
                       '--dataset_dir=' + str(tmp_path / 'nowhere'))
  assert missing.returncode == 2 and 'does not exist' in error_line(missing)
  empty = run_cli('eval_image_classifier.py', '--dataset_name=shapes',
                     '--model_name=cifarnet', '--dataset_dir=' + str(tmp_path))
  assert empty.returncode == 2 and 'is empty' in error_line(empty)


def test_convert_errors(tmp_path):
  (tmp_path / 'src' / 'cls').mkdir(parents=True)
  no_images = run_cli('download_and_convert_data.py', '--dataset_name=x',
                         '--dataset_dir=' + str(tmp_path / 'out'),
                         '--source_dir=' + str(tmp_path / 'src'))
  assert no_images.returncode == 2
  assert 'has no images' in error_line(no_images)


def test_classify_refuses_a_file_that_is_not_an_image(trained, shapes_dir,
                                                      tmp_path):
  bogus = tmp_path / 'photo.jpg'
  bogus.write_text('this is text')
  result = run_cli('classify_image.py', '--model_name=cifarnet',
                      '--checkpoint_path=' + trained[0],
                      '--dataset_dir=' + shapes_dir, str(bogus))
  assert result.returncode == 2
  assert error_line(result).startswith(
      'error: 1 of 1 file(s) could not be read as images, so were not '
      'classified: %s (cannot identify image file' % bogus)


def test_a_period_of_0_saves_only_the_first_and_last(shapes_dir, tmp_path):
  # TF-Slim's meaning (its Supervisor): 0 turns the periodic saves off.
  # TensorFlow's hooks would save at every step instead.
  train_dir = str(tmp_path / 'train')
  result = run_cli(
      'train_image_classifier.py', '--dataset_name=shapes',
      '--dataset_dir=' + shapes_dir, '--model_name=lenet',
      '--preprocessing_name=lenet', '--batch_size=4',
      '--train_dir=' + train_dir, '--max_number_of_steps=5',
      '--save_interval_secs=0', '--save_summaries_secs=0')
  assert result.returncode == 0, result.stderr[-2000:]
  assert sorted(glob.glob(os.path.join(train_dir, '*.index'))) == [
      os.path.join(train_dir, 'model.ckpt-%d.index' % s) for s in (0, 5)]
  assert _tag_steps(train_dir, 'total_loss') == [5]
  negative = run_cli('train_image_classifier.py', '--save_interval_secs=-1')
  assert error_line(negative) == (
      'error: --save_interval_secs must be 0 or more, got -1')
