"""`shapes`: the embedded demo dataset, drawn with Pillow, no download.

Six classes of filled shapes (circle, cross, ring, square, star, triangle) in
random colours, sizes, positions and rotations on noisy backgrounds. The
images are generated deterministically from a seed into
DATASET_DIR/images/{train,validation}/<class>/*.png and converted through the
image-folder path, so the dataset exercises exactly what a user's own folder
goes through.
"""

import math
import os

import numpy as np
from PIL import Image, ImageDraw

from slimvision.datasets import image_folder

NAME = 'shapes'
CLASS_NAMES = ('circle', 'cross', 'ring', 'square', 'star', 'triangle')
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SIZE = 32
TRAIN_PER_CLASS = 600
VALIDATION_PER_CLASS = 100
_SUPERSAMPLE = 4  # Drawn 4x larger, then downsampled: smooth edges.


def _polygon(center, radius, angle, points, inner_ratio=None):
  """Vertices of a regular polygon (or a star if inner_ratio is given)."""
  vertices = []
  count = points * 2 if inner_ratio else points
  for i in range(count):
    r = radius * (inner_ratio if inner_ratio and i % 2 else 1.0)
    a = angle + 2 * math.pi * i / count
    vertices.append((center[0] + r * math.cos(a), center[1] + r * math.sin(a)))
  return vertices


def _cross(center, radius, angle):
  """A plus sign of arm width radius/2.5, rotated by angle."""
  w = radius / 2.5
  arm = [(-w, -radius), (w, -radius), (w, -w), (radius, -w), (radius, w),
         (w, w), (w, radius), (-w, radius), (-w, w), (-radius, w),
         (-radius, -w), (-w, -w)]
  c, s = math.cos(angle), math.sin(angle)
  return [(center[0] + x * c - y * s, center[1] + x * s + y * c)
          for x, y in arm]


def draw_shape(class_name, rng, size=IMAGE_SIZE):
  """Draws one image of `class_name` as a uint8 array [size, size, 3]."""
  big = size * _SUPERSAMPLE
  background = rng.randint(0, 256, 3)
  # A foreground colour clearly apart from the background.
  while True:
    colour = rng.randint(0, 256, 3)
    if np.abs(colour.astype(int) - background).sum() > 200:
      break
  image = Image.new('RGB', (big, big), tuple(int(v) for v in background))
  draw = ImageDraw.Draw(image)
  radius = rng.uniform(0.25, 0.42) * big
  margin = radius * 1.05
  center = (rng.uniform(margin, big - margin), rng.uniform(margin, big - margin))
  angle = rng.uniform(0, 2 * math.pi)
  fill = tuple(int(v) for v in colour)
  box = [center[0] - radius, center[1] - radius, center[0] + radius,
         center[1] + radius]
  if class_name == 'circle':
    draw.ellipse(box, fill=fill)
  elif class_name == 'ring':
    draw.ellipse(box, fill=fill)
    inner = radius * 0.55
    draw.ellipse([center[0] - inner, center[1] - inner, center[0] + inner,
                  center[1] + inner], fill=tuple(int(v) for v in background))
  elif class_name == 'square':
    draw.polygon(_polygon(center, radius, angle, 4), fill=fill)
  elif class_name == 'triangle':
    draw.polygon(_polygon(center, radius, angle, 3), fill=fill)
  elif class_name == 'star':
    draw.polygon(_polygon(center, radius, angle, 5, inner_ratio=0.45),
                 fill=fill)
  elif class_name == 'cross':
    draw.polygon(_cross(center, radius, angle), fill=fill)
  else:
    raise ValueError('Unknown shape %r; valid: %s' %
                     (class_name, ', '.join(CLASS_NAMES)))
  pixels = np.asarray(image.resize((size, size), Image.LANCZOS), np.float32)
  pixels += rng.normal(0, 12, pixels.shape)  # Background noise.
  return np.clip(pixels, 0, 255).astype(np.uint8)


def generate_images(image_dir, train_per_class=TRAIN_PER_CLASS,
                    validation_per_class=VALIDATION_PER_CLASS, seed=0,
                    size=IMAGE_SIZE):
  """Writes image_dir/{train,validation}/<class>/NNNNN.png deterministically.

  Returns:
    Number of images written.
  """
  count = 0
  for split_index, (split, per_class) in enumerate(
      (('train', train_per_class), ('validation', validation_per_class))):
    for class_index, name in enumerate(CLASS_NAMES):
      folder = os.path.join(image_dir, split, name)
      os.makedirs(folder, exist_ok=True)
      rng = np.random.RandomState([seed, split_index, class_index])
      for i in range(per_class):
        Image.fromarray(draw_shape(name, rng, size)).save(
            os.path.join(folder, '%05d.png' % i))
        count += 1
  return count


def convert(dataset_dir, source=None, overwrite=False, seed=0, log=print,
            train_per_class=TRAIN_PER_CLASS,
            validation_per_class=VALIDATION_PER_CLASS):
  """Draws the images under dataset_dir/images and converts them.

  Args:
    dataset_dir: output folder; the drawn images go to its images/.
    source: unused: the images are drawn, not read (accepted so every
      converter has the same arguments).
    overwrite: draw and convert again over a complete earlier output.
    seed: seed of the drawing and of the record order.
    log: function taking a message line.
    train_per_class, validation_per_class: images drawn per class.

  Returns:
    The summary dict of image_folder.convert().
  """
  del source
  image_dir = os.path.join(dataset_dir, 'images')
  if overwrite or not os.path.isdir(image_dir):
    log('Drawing %d shapes images into %s' % (
        (train_per_class + validation_per_class) * len(CLASS_NAMES),
        image_dir))
    generate_images(image_dir, train_per_class, validation_per_class, seed)
  return image_folder.convert(NAME, image_dir, dataset_dir, seed=seed,
                              num_shards=2, overwrite=overwrite, log=log)


# The name tests/conftest.py and older callers use.
download_and_convert = convert

# Reading: the converted folder's spec gives the split sizes.
get_split = image_folder.get_split
