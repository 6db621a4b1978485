"""slimvision: TF-Slim style image classification on current TensorFlow.

The source tree keeps TF-Slim's layout (datasets/, nets/, preprocessing/,
deployment/ and the top-level scripts); installed, it all lives under the one
package ``slimvision`` so that it never shadows other top-level packages such
as Hugging Face ``datasets``.

Layers, each importing only those below it:
  scripts, cli/        flags -> config -> engine, errors -> exit codes
  engines/             training, evaluation, export, inference, pipeline
  datasets/, nets/, preprocessing/, deployment/   the model packages
  core/                compat, errors, files, log, registry, summaries

Importing the package itself loads no TensorFlow, so a command answers
--help and prints its first line at once. The model packages (datasets,
nets, preprocessing, deployment) apply the tf-slim compatibility layer
(``slimvision.core.compat.apply()``) when imported, before any of our code
calls tf-slim.
"""

import os

# TensorFlow's C++ start-up chatter (CUDA probing, CPU features) hides our
# own messages; the setting must come before TensorFlow loads, so it is made
# here, which runs before any module of ours (core/compat.py included), and
# users can still set the variable themselves.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# TensorFlow turns its oneDNN kernels on only for CPUs with AVX512-VNNI,
# AVX512-BF16 or AMX. On an AVX2 CPU (2-core AMD EPYC) they trained faster
# in every model measured: a bare training step of cifarnet 1.6x, of
# mobilenet_v1_025 3.1x, mobilenet_v3_small_minimalistic 1.7x, inception_v3
# 1.2x (benchmarks/train_throughput.py). TF_ENABLE_ONEDNN_OPTS=0 turns them
# off again.
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '1')

__version__ = '0.2.0'
