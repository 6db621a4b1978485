"""The networks (one per file) and their registry, nets_factory."""

from slimvision.core import compat

# tf-slim reaches into TensorFlow internals that have moved; put them back
# before any module of this package calls tf-slim.
compat.apply()
