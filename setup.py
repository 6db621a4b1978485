"""slimvision: TF-Slim style image classification on current TensorFlow.

The source tree keeps TF-Slim's layout (datasets/, nets/, preprocessing/,
deployment/ and the scripts at the top). Installed, all of it lives in the
single package `slimvision`, so nothing shadows popular top-level packages
(a top-level `datasets` would break Hugging Face `datasets`).
"""

from setuptools import setup
from setuptools.command.build_py import build_py

SUBPACKAGES = ('cli', 'core', 'datasets', 'deployment', 'engines', 'nets',
               'nets.mobilenet', 'nets.nasnet', 'preprocessing')



class BuildPy(build_py):
  """Leaves this setup.py out of the package the checkout root becomes."""

  def find_package_modules(self, package, package_dir):
    return [(pkg, module, path) for pkg, module, path in
            super().find_package_modules(package, package_dir)
            if not (pkg == 'slimvision' and module == 'setup')]


setup(
    name='slimvision',
    cmdclass={'build_py': BuildPy},
    version='0.2.0',
    description='TF-Slim style image classification on current TensorFlow',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=['slimvision'] + ['slimvision.' + p for p in SUBPACKAGES],
    package_dir=dict({'slimvision': '.'},
                     **{'slimvision.' + p: p.replace('.', '/')
                        for p in SUBPACKAGES}),
    install_requires=[
        'tensorflow>=2.21,<2.22',
        'tf_keras>=2.21,<2.22',
        'tf-slim==1.1.0',
        'tensorboard>=2.21,<2.22',
        'numpy',
        'pillow',
    ],
    # wheel: the packaging test builds without network (no build isolation).
    extras_require={'test': ['pytest', 'pytest-timeout', 'pytest-xdist',
                             'wheel']},
    entry_points={'console_scripts': [
        'slim-download-and-convert-data='
        'slimvision.download_and_convert_data:main',
        'slim-train-image-classifier=slimvision.train_image_classifier:main',
        'slim-eval-image-classifier=slimvision.eval_image_classifier:main',
        'slim-classify-image=slimvision.classify_image:main',
        'slim-export-inference-graph='
        'slimvision.export_inference_graph:main',
        'slim-serve-image-classifier='
        'slimvision.serve_image_classifier:main',
    ]},
)
