"""slimvision: TF-Slim style image classification on current TensorFlow.

The source tree keeps TF-Slim's layout (datasets/, nets/, preprocessing/,
deployment/ and the top-level scripts); installed, it all lives under the one
package ``slimvision`` so that it never shadows other top-level packages such
as Hugging Face ``datasets``.

Layers, each importing only those below it:
  scripts, cli/        flags -> config -> engine, errors -> exit codes
  engines/             training, evaluation, export, inference, pipeline
  datasets/, nets/, preprocessing/, deployment/   the model packages
  core/                compat, errors, log, registry, summaries

Importing the package applies the tf-slim compatibility layer
(``slimvision.core.compat.apply()``) before any of our code calls tf-slim.
"""

from .core import compat

compat.apply()

__version__ = '0.2.0'
