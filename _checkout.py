"""Lets the top-level scripts run straight from a source checkout.

Installed, this folder *is* the package ``slimvision``. In a checkout it is
just a folder, so a script run as ``python train_image_classifier.py``
imports this module first, which registers the folder under the package name
``slimvision``. All code then imports ``slimvision.<module>`` either way.
"""

import importlib.util
import os
import sys

PACKAGE = 'slimvision'


def register(root=os.path.dirname(os.path.abspath(__file__))):
  """Registers the checkout folder `root` as the package `slimvision`."""
  if PACKAGE in sys.modules:
    return sys.modules[PACKAGE]
  spec = importlib.util.spec_from_file_location(
      PACKAGE, os.path.join(root, '__init__.py'),
      submodule_search_locations=[root])
  package = importlib.util.module_from_spec(spec)
  sys.modules[PACKAGE] = package
  spec.loader.exec_module(package)
  return package


register()
