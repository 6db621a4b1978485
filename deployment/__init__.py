"""Model deployment over clones and replicas (model_deploy)."""

from slimvision.core import compat

# tf-slim reaches into TensorFlow internals that have moved; put them back
# before any module of this package calls tf-slim.
compat.apply()
