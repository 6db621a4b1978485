"""slimvision: TF-Slim style image classification on current TensorFlow.

The source tree keeps TF-Slim's layout (datasets/, nets/, preprocessing/,
deployment/ and the top-level scripts); installed, it all lives under the one
package ``slimvision`` so that it never shadows other top-level packages such
as Hugging Face ``datasets``.

Importing the package applies the tf-slim compatibility layer
(``slimvision.core.compat``) before any module of ours imports ``tf_slim``.
"""

from .core import compat  # noqa: F401  (must run before tf_slim is used)

__version__ = '0.1.0'
