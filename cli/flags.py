"""Every command-line flag of the scripts, each defined once.

A command's flags are the fields of its config class (engines/config.py):
the field's name is the flag's name, its type the flag's type and its
default the flag's default for that command. This module adds the one help
text of each flag (and the choices of the enum flags), defines a command's
flags into a `FlagValues` and builds the config back from the parsed values.
"""

import typing

from absl import flags

from slimvision.engines import config as config_lib

# name: help. One text per flag, whichever scripts share it.
HELP = {
    # Dataset and batching.
    'dataset_name': 'The name of the dataset (a registered dataset, or the '
                    'name a folder was converted under with --source_dir).',
    'dataset_split_name': 'The name of the split to use (export: the split '
                          'whose images calibrate --tflite_quantize=int8).',
    'dataset_dir': 'The directory where the converted dataset files are '
                   '(conversion: where they are written; export and '
                   'classify: its labels.txt names the classes).',
    'labels_offset': 'An offset for the labels in the dataset. This flag is '
                     'primarily used to evaluate the VGG and ResNet '
                     'architectures which do not use a background class for '
                     'the ImageNet dataset.',
    'batch_size': 'The number of samples in each batch (training: over all '
                  'clones; export: the fixed batch of the graph, or any if '
                  'unset).',
    'num_preprocessing_threads': 'The number of threads used to decode and '
                                 'preprocess the images.',
    'num_readers': 'The number of parallel readers that read data.',
    'jpeg_decode': 'How JPEG images are decoded: partial (only the part the '
                   'preprocessing keeps - its crop window - and at 1/2, 1/4 '
                   'or 1/8 scale in the DCT domain when it shrinks the image '
                   'at least that much anyway) or whole (decode the whole '
                   'image, then crop and resize, as TF-Slim did). Other '
                   'formats are always decoded whole.',
    'image_cache_mb': 'Keep the decoded training images in memory, if the '
                      'split fits in this many MiB (estimated from its '
                      'image sizes before training), so each image is read '
                      'and decoded once; 0 turns the cache off.',
    'intra_op_threads': 'Threads that one TensorFlow op (a convolution) may '
                        'use; 0 means one per core.',
    'inter_op_threads': 'TensorFlow ops run at once; 0 means one per core.',
    'skip_corrupt_records': 'Skip a record that cannot be read or decoded, or '
                            'whose label is out of range, with a warning '
                            'naming its file and index, and report how many '
                            'were skipped (default: stop with an error naming '
                            'it). Not a TF-Slim flag.',
    # Model.
    'model_name': 'The name of the architecture to use.',
    'preprocessing_name': 'The name of the preprocessing to use. If left as '
                          '`None`, then the model_name flag is used.',
    'use_grayscale': 'Whether to convert input images to grayscale.',
    'train_image_size': 'Training image size in pixels; default: the '
                        'network\'s own.',
    'eval_image_size': 'Evaluation image size in pixels; default: the '
                       'network\'s own.',
    'image_size': 'Input image size in pixels; default: the network\'s own.',
    'central_crop_fraction': 'Inception preprocessing: the fraction of the '
                             'image\'s height and width that the central '
                             'crop keeps before the resize (default: 0.875, '
                             'as in TF-Slim). 1 keeps the whole image, which '
                             'suits images whose label is the whole frame '
                             '(scenes, textures, satellite tiles) and '
                             'training with a large --min_crop_area. Not a '
                             'TF-Slim flag.',
    'num_classes': 'Number of model outputs (default: the dataset\'s classes '
                   'minus --labels_offset, or the number of labels).',
    'moving_average_decay': 'The decay of the moving averages of the weights.'
                            ' Training keeps such averages (None: none); '
                            'evaluation, export and classify restore the '
                            'weights from them (give the decay the model was '
                            'trained with).',
    'weight_decay': 'The weight decay on the model weights.',
    'batch_norm_decay': 'Decay of the batch-norm moving mean and variance '
                        '(default: the network\'s own, 0.9997 for most). Not '
                        'a TF-Slim flag: lower it (e.g. 0.99) for a run of a '
                        'few thousand steps from scratch, whose moving '
                        'statistics would otherwise lag the weights and spoil '
                        'evaluation.',
    'label_smoothing': 'The amount of label smoothing.',
    # Checkpoints and fine-tuning.
    'checkpoint_path': 'A checkpoint file prefix, a folder whose latest '
                       'checkpoint is used, or zoo:<model_name> (e.g. '
                       'zoo:mobilenet_v1_025) for the published TF-Slim '
                       'ImageNet checkpoint of that network, downloaded '
                       'once into $SLIMVISION_CACHE/zoo (by default '
                       '~/.cache/slimvision/zoo); the README lists the '
                       'names. Training: the checkpoint to fine-tune from '
                       '(ignored when --train_dir already holds one, which '
                       'is resumed); evaluation, export and classify: the '
                       'weights to use.',
    'checkpoint_exclude_scopes': 'Comma-separated list of scopes of '
                                 'variables to exclude when restoring from a '
                                 'checkpoint.',
    'trainable_scopes': 'Comma-separated list of scopes to filter the set of '
                        'variables to train. By default, None would train all'
                        ' the variables.',
    'ignore_missing_vars': 'When restoring a checkpoint would ignore missing '
                           'variables.',
    'freeze_batch_norm_statistics': 'With --trainable_scopes: run only the '
                                    'batch-norm updates of those scopes, so '
                                    'the moving mean and variance of the '
                                    'frozen layers stay as restored. Not a '
                                    'TF-Slim flag: TF-Slim (the default) '
                                    'updates every layer\'s statistics, '
                                    'which adapts them to new images but, '
                                    'with small batches or few images, '
                                    'can drift from what the frozen weights '
                                    'were trained with.',
    'train_dir': 'Directory where checkpoints and event logs are written.',
    'max_number_of_steps': 'The maximum number of training steps.',
    'seed': 'Random seed. Training: shuffling and initialisation (None: '
            'random); conversion: shuffling and the split assignment.',
    # Augmentation.
    'min_crop_area': 'Inception preprocessing: the smallest random training '
                     'crop, as a fraction of the image area (default: '
                     'TF-Slim\'s 0.05). Not a TF-Slim flag: milder crops (e.g.'
                     ' 0.35) let a short run on a small dataset fit more.',
    'color_distortion': 'Inception preprocessing: randomly distort the '
                        'brightness and saturation of training images. Not a '
                        'TF-Slim flag; --nocolor_distortion turns it off.',
    'random_rotate_90': 'Inception preprocessing: also rotate training images'
                        ' by a random multiple of 90 degrees, which with the '
                        'left-right flip gives all 8 orientations. Not a '
                        'TF-Slim flag: for overhead imagery such as '
                        'satellite, whose orientation means nothing.',
    'quantize_delay': 'Number of steps to start quantized training. Set to -1'
                      ' would disable quantized training. Quantization-aware '
                      'training as tf.contrib.quantize did it: batch norm '
                      'folded into the weights, fake-quantized weights and '
                      'activations, their ranges collected from step 0 and '
                      'applied from this step on.',
    'quantize': 'whether to use quantized graph or not: the graph of a '
                'checkpoint trained with --quantize_delay (batch norm '
                'folded, fake-quantized with the checkpoint\'s ranges). '
                'Export: the --tflite_file is then a full-integer model '
                'with those ranges.',
    # Optimizer.
    'optimizer': 'The name of the optimizer.',
    'adadelta_rho': 'The decay rate for adadelta.',
    'adagrad_initial_accumulator_value': 'Starting value for the AdaGrad '
                                         'accumulators.',
    'adam_beta1': 'The exponential decay rate for the 1st moment estimates.',
    'adam_beta2': 'The exponential decay rate for the 2nd moment estimates.',
    'opt_epsilon': 'Epsilon term for the optimizer.',
    'ftrl_learning_rate_power': 'The learning rate power.',
    'ftrl_initial_accumulator_value': 'Starting value for the FTRL '
                                      'accumulators.',
    'ftrl_l1': 'The FTRL l1 regularization strength.',
    'ftrl_l2': 'The FTRL l2 regularization strength.',
    'momentum': 'The momentum for the MomentumOptimizer and '
                'RMSPropOptimizer.',
    'rmsprop_momentum': 'Momentum.',
    'rmsprop_decay': 'Decay term for RMSProp.',
    # Learning rate.
    'learning_rate_decay_type': 'Specifies how the learning rate is decayed: '
                                'exponential (staircase), fixed, polynomial '
                                '(linear to --end_learning_rate) or cosine '
                                '(half a cosine to --end_learning_rate at '
                                '--max_number_of_steps, after any '
                                '--warmup_epochs).',
    'learning_rate': 'Initial learning rate.',
    'end_learning_rate': 'The minimal end learning rate used by a polynomial '
                         'decay learning rate.',
    'learning_rate_decay_factor': 'Learning rate decay factor.',
    'num_epochs_per_decay': 'Number of epochs after which learning rate '
                            'decays.',
    'warmup_epochs': 'Linearly warm up the learning rate from 0 over this '
                     'many epochs.',
    # Precision.
    'precision': 'The arithmetic: fp32; bf16 (TensorFlow\'s oneDNN bf16 '
                 'graph rewrite, fast on CPUs with AMX or AVX512-BF16); fp16 '
                 '(float16 rewrite of the GPU ops, GPUs of compute capability '
                 '7.0 or newer; training adds dynamic loss scaling); auto '
                 '(bf16 where it was measured faster for the model on this '
                 'hardware, else fp32; the log says which and why). '
                 'Variables and checkpoints stay float32. Export: every '
                 'graph stays float32; fp16 writes the --tflite_file with '
                 'float16 weights, bf16 is refused for it (TFLite has no '
                 'bf16 weights). Not a TF-Slim flag.',
    # Logging and checkpoints.
    'log_every_n_steps': 'The frequency with which logs are printed.',
    'save_summaries_secs': 'The frequency with which summaries are saved, in '
                           'seconds (0: only at the last step).',
    'save_summaries_steps': 'Save summaries every this many steps instead '
                            'of every --save_summaries_secs. Either way '
                            'they are also saved at the last step.',
    'save_interval_secs': 'The frequency with which the model is saved, in '
                          'seconds (0: only at the start and the last step).',
    # Clones, replicas and the cluster.
    'num_clones': 'Number of model clones to deploy.',
    'clone_on_cpu': 'Use CPUs to deploy clones.',
    'master': 'The address of the TensorFlow master.',
    'task': 'Task id of the replica running the training.',
    'worker_replicas': 'Number of worker replicas.',
    'num_ps_tasks': 'The number of parameter servers. If 0, parameters are '
                    'handled locally by the worker.',
    'ps_hosts': 'Comma-separated host:port of the parameter servers (instead'
                ' of TF_CONFIG).',
    'worker_hosts': 'Comma-separated host:port of the workers (instead of '
                    'TF_CONFIG).',
    'job_name': 'ps or worker, with --ps_hosts.',
    'sync_replicas': 'Whether or not to synchronize the replicas during '
                     'training.',
    'replicas_to_aggregate': 'The Number of gradients to collect before '
                             'updating params.',
    # Evaluation.
    'eval_dir': 'Directory where the results are saved to.',
    'max_num_batches': 'Max number of batches to evaluate by default use all.',
    'eval_interval_secs': 'With a checkpoint folder: wait at least this long '
                          'between evaluations and evaluate each new '
                          'checkpoint (0: evaluate the latest once).',
    'eval_timeout_secs': 'In loop mode, stop after this many seconds without '
                         'a new checkpoint (None: wait forever).',
    # Export.
    'is_training': 'Whether to save out a training-focused version of the '
                   'model.',
    'is_video_model': 'Whether to use 5-D inputs for a video model (the '
                      'registered video models, i3d and s3dg, always do).',
    'num_frames': 'The number of frames of a video model\'s input.',
    'output_file': 'Where to save the resulting file to. With '
                   '--checkpoint_path and no --frozen_graph_file, the frozen '
                   'graph goes here.',
    'write_text_graphdef': 'Whether to write a text version of graphdef.',
    'frozen_graph_file': 'Write the graph with the checkpoint\'s weights as '
                         'constants here.',
    'saved_model_dir': 'A SavedModel folder: export writes one there '
                       '(TensorFlow Serving, tf.saved_model.load); classify '
                       'and serve read one (classify: instead of a '
                       'checkpoint; serve: also a folder of numbered '
                       'versions, the highest of which is served).',
    'tflite_file': 'Export: write a TFLite model here. Evaluation and '
                   'classify: score or run this TFLite model (float or '
                   'integer) instead of a checkpoint.',
    'tflite_quantize': 'Post-training quantization of the --tflite_file: '
                       'none (float); dynamic (8-bit weights, float '
                       'activations; a bare --tflite_quantize means this); '
                       'int8 (every op integer, for microcontrollers and the '
                       'EdgeTPU: activation ranges calibrated on '
                       '--calibration_steps images of --dataset_split_name '
                       'in --dataset_dir through the eval preprocessing).',
    'tflite_io_type': 'The type of the input and output tensors of an '
                      'integer TFLite model (--tflite_quantize=int8 or '
                      '--quantize): int8 or uint8. Their scale and zero '
                      'point are in the model and in its .metadata.json.',
    'calibration_steps': 'How many images (one per step, as research/slim\'s '
                         'post_training_quantization.py) calibrate '
                         '--tflite_quantize=int8; at most the split\'s size.',
    # Classify.
    'frozen_graph': 'A frozen graph written by export_inference_graph.py '
                    '(instead of a checkpoint; give its --model_name for the '
                    'preprocessing).',
    'labels_file': 'A labels file (index:name lines).',
    'top_k': 'How many classes to print per image. Serve: how many '
             'classes POST /classify answers with (unless its ?top_k= '
             'says).',
    # Serve.
    'host': 'The address to serve on. The default, 127.0.0.1, answers this '
            'machine only; 0.0.0.0 exposes the server to the network (it '
            'has no authentication).',
    'port': 'The port to serve on: 8501, TensorFlow Serving\'s REST port, '
            'by default; 0 picks a free one (printed).',
    'serving_name': 'The model name in the URL, as TensorFlow Serving\'s '
                    'MODEL_NAME: POST /v1/models/<serving_name>:predict.',
    # Conversion.
    'source_dir': 'A local folder (or archive) to convert instead of '
                  'downloading. Required for image-folder datasets, imagenet '
                  'and visualwakewords.',
    'overwrite': 'Convert again even if --dataset_dir holds a complete '
                 'conversion.',
    'validation_fraction': 'Share of each class held out for validation when '
                           'the source folder has no train/validation split.',
    'num_shards': 'Record files per split (default: the dataset\'s own, 5 '
                  'for image folders).',
    'small_object_area_threshold': 'visualwakewords: smallest foreground '
                                   'object area, as a share of the image '
                                   'area, that labels an image 1.',
    'foreground_class_of_interest': 'visualwakewords: the COCO category of '
                                    'label 1.',
    'verify': 'Convert nothing: read every record of every split of the '
              'dataset in --dataset_dir (parse, decode the image, check the '
              'label), list each bad one (file, index, reason) and exit 2 if '
              'any is bad.',
}

ENUMS = {
    'optimizer': config_lib.OPTIMIZERS,
    'learning_rate_decay_type': config_lib.DECAY_TYPES,
    'precision': config_lib.PRECISIONS,
    'jpeg_decode': config_lib.JPEG_DECODES,
    'tflite_quantize': config_lib.TFLITE_QUANTIZE,
    'tflite_io_type': config_lib.TFLITE_IO_TYPES,
}

# Enum flags that were booleans once: the value a bare `--name` stands for
# (and `--noname` stands for 'none').
BARE_VALUES = {'tflite_quantize': 'dynamic'}

ALIASES = {'source': 'source_dir'}

_DEFINERS = {str: flags.DEFINE_string, int: flags.DEFINE_integer,
             float: flags.DEFINE_float, bool: flags.DEFINE_bool}


def _base_type(annotation):
  """str for Optional[str], etc."""
  args = [a for a in typing.get_args(annotation) if a is not type(None)]
  return args[0] if args else annotation


def define(config_class, flag_values):
  """Defines the flags of `config_class` into `flag_values`; returns their
  names in definition order."""
  names = []
  for field in config_lib.flag_fields(config_class):
    if field.name in ENUMS:
      flags.DEFINE_enum(field.name, field.default, ENUMS[field.name],
                        HELP[field.name], flag_values=flag_values)
    else:
      _DEFINERS[_base_type(field.type)](field.name, field.default,
                                        HELP[field.name],
                                        flag_values=flag_values)
    names.append(field.name)
  for alias, name in ALIASES.items():
    if name in names:
      flags.DEFINE_alias(alias, name, flag_values=flag_values)
  return names


def expand_bare_values(argv, names):
  """argv with each bare `--name` / `--noname` of a BARE_VALUES flag among
  `names` written with its value, so the enum parses it."""
  expanded = []
  for arg in argv:
    for name, value in BARE_VALUES.items():
      if name in names and arg in ('--' + name, '-' + name):
        arg = '--%s=%s' % (name, value)
      elif name in names and arg in ('--no' + name, '-no' + name):
        arg = '--%s=none' % name
    expanded.append(arg)
  return expanded


def build(config_class, flag_values, **extra):
  """The config from parsed `flag_values` (plus non-flag fields `extra`)."""
  values = {f.name: flag_values[f.name].value
            for f in config_lib.flag_fields(config_class)}
  values.update(extra)
  return config_class(**values)
