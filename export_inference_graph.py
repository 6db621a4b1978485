r"""Exports a network for inference: GraphDef, frozen graph, SavedModel, TFLite.

Usage:
  # The inference GraphDef alone (no weights), as TF-Slim wrote it:
  python export_inference_graph.py --model_name=inception_v3 \
      --output_file=/tmp/inception_v3_inf_graph.pb

  # With a checkpoint: the frozen graph, a SavedModel for TensorFlow Serving
  # and a TFLite model in one run.
  python export_inference_graph.py --model_name=cifarnet \
      --dataset_name=shapes --dataset_dir=/tmp/shapes \
      --checkpoint_path=/tmp/train --frozen_graph_file=/tmp/frozen.pb \
      --saved_model_dir=/tmp/serving/cifarnet/1 --tflite_file=/tmp/m.tflite

The GraphDef has a float placeholder `input` [batch, size, size, channels]
(video models: [batch, num_frames, size, size, 3]) and the outputs `logits`
and `probabilities`. The SavedModel's `serving_default` signature takes
encoded image files (string [batch], key `image_bytes`) and applies the
model's eval preprocessing; `predict_images` takes preprocessed float images
(key `images`). Both return `classes`, `class_names`, `probabilities` and
`logits` (see engines/inference.py). Every file is written under a temporary
name and renamed into place.
"""

from slimvision.cli import app
from slimvision.engines.config import ExportConfig

# Imported when the command runs, after its first line (cli/app.py).
ENGINE = 'slimvision.engines.export:run'

# research/slim's scripts define their flags in tf.app.flags.FLAGS on import.
FLAGS = app.define_global_flags(ExportConfig)


def run(argv=None):
  """Exports from the command line `argv`; returns the exit status."""
  return app.run(ExportConfig, ENGINE, __doc__, argv)


def main(*argv):
  """Console entry point; main(argv), as tf.app.run calls research/slim's,
  runs with absl's global FLAGS instead (see app.run_with_global_flags)."""
  return app.main_entry(ExportConfig, ENGINE, __doc__, *argv)


if __name__ == '__main__':
  main()
