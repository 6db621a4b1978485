r"""Serves an exported SavedModel over HTTP, without TensorFlow Serving.

Usage:
  python export_inference_graph.py --model_name=cifarnet \
      --dataset_name=shapes --dataset_dir=/tmp/shapes \
      --checkpoint_path=/tmp/train --saved_model_dir=/tmp/serving/shapes/1
  python serve_image_classifier.py --saved_model_dir=/tmp/serving/shapes/1

  # TensorFlow Serving's REST predict API (the same request works there):
  printf '{"instances": [{"b64": "%s"}]}' "$(base64 -w0 star.png)" \
      > request.json
  curl -d @request.json http://127.0.0.1:8501/v1/models/slimvision:predict
  # The top classes of one image, posted as the raw file:
  curl --data-binary @star.png http://127.0.0.1:8501/classify

It serves until interrupted (Ctrl-C). --saved_model_dir may also be a folder
of numbered versions (TF Serving's layout); the highest is served. Request
and response formats: engines/serving.py.
"""

from slimvision.cli import app
from slimvision.engines.config import ServeConfig

# Imported when the command runs, after its first line (cli/app.py).
ENGINE = 'slimvision.engines.serving:run'

# research/slim's scripts define their flags in tf.app.flags.FLAGS on import.
FLAGS = app.define_global_flags(ServeConfig)


def run(argv=None):
  """Serves from the command line `argv`; returns the exit status."""
  return app.run(ServeConfig, ENGINE, __doc__, argv)


def main(*argv):
  """Console entry point; main(argv), as tf.app.run calls research/slim's,
  runs with absl's global FLAGS instead (see app.run_with_global_flags)."""
  return app.main_entry(ServeConfig, ENGINE, __doc__, *argv)


if __name__ == '__main__':
  main()
