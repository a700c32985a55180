"""Human-in-the-loop selection: `python -m vaal_core select SPEC --images DIR --labels labels.csv
--budget N --strategy NAME --out DIR`: which of your unlabeled images to label next.

One call is one round: train the spec's task model (and the strategy's own models) on the images
labels.csv names, score the rest, and write the next `--budget` images as `selection.csv`. The
user labels them, appends `path,label` rows to labels.csv and calls again: a new labels.csv is a
new round. Nothing under the images folder is written, moved or changed; every file of a round
lives in its own folder `<out>/round-<NN>-<key>`, where the key hashes everything the list depends
on (the labels labels.csv gives, the image list and each image's size, the spec's hash with every
--set and --protocol in it, strategy, budget, seed). So:
- a rerun with the same inputs finds its round folder and prints the same list (no compute);
- an interrupted round resumes: the trained task model is kept (`task_model.pt`), and every random
  stream is seeded by (seed, key, purpose) alone, so the list equals an uninterrupted round's;
- no test set is read: selection needs none, so no accuracy is measured (the run command does).

Images are decoded once into `<out>/cache/` as the `imagefolder` dataset decodes them (upright,
grey only when every image is grey, cached at image_size x 256/224 and cropped on the device).
Paths in labels.csv, in a list file and in selection.csv are relative to the images folder (or to
the list file's folder); absolute paths work too. Class indices follow the sorted label names.
"""

from .command import add_arguments, main

__all__ = ["add_arguments", "main"]
