"""The network's map of the photos: where its last hidden layer puts each validation photo, in 2-D.

The last hidden layer (`cnnviz.inspect.hidden_layer`: the values the output unit weighs; the
tutorial's 64 dense units after their ReLU, the modern network's 256 global averages) gives
each photo a point in 64 or 256 dimensions, and the output unit splits that space with one flat
cut: z = w·features + b. Two ways to draw those points on a page:

- **PCA**: the two directions along which the photos' features vary most. A projection: near
  and far, left and right mean what they say, but the two directions need not be the ones
  that separate dogs from cats, and points on top of each other may be far apart in the rest.
- **t-SNE** (van der Maaten and Hinton, 2008): photos placed so that each one's nearest
  neighbours in the features stay near it. Clusters show, but the gaps between clusters,
  their sizes and the axes mean nothing, and another seed draws another arrangement.

Both are computed from the features alone; the labels only colour the points and orient the
PCA axes (dogs' mean to the right and up), a mirror image that changes no distance.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnnviz import CLASS_NAMES, THRESHOLD
from cnnviz.backend import keras, tf
from cnnviz.inspect import forward_to, hidden_layer
from cnnviz.memo import Memo
from cnnviz.model import weights_fingerprint
from cnnviz.mosaic import to_png
from cnnviz.pictures import thumbnail
from cnnviz.pipeline import decoded_images, items_key

SAMPLE = 500  # validation photos a map places, by default
THUMBNAIL = 64  # pixels: the side of each photo's hover picture
PCA_FIRST = 50  # t-SNE runs on this many principal components, as its authors advise
PERPLEXITY = 30.0  # about how many neighbours each photo keeps near it
TSNE_STEPS = 500  # benchmarks/features.py: seconds for 500 photos

# A map holds its photos' thumbnails (500 x 64 x 64 x 3 bytes, 6 MB): a few maps, each session's
# latest and the shipped weights', are all a room looks at.
_maps: Memo = Memo(keep=6)


@dataclass(frozen=True)
class PhotoMap:
    layer: str  # the layer whose values place the photos
    paths: list[str]
    labels: np.ndarray  # (n,) 0 cat, 1 dog
    dog_probability: np.ndarray  # (n,) the sigmoid's output
    pca: np.ndarray  # (n, 2)
    tsne: np.ndarray  # (n, 2)
    explained: tuple[float, float]  # share of the features' variance along each PCA axis
    dimensions: int  # how many values the layer gives each photo
    thumbnails: np.ndarray = field(repr=False)  # (n, THUMBNAIL, THUMBNAIL, 3) uint8
    seconds: dict[str, float] = field(default_factory=dict)  # "features", "pca", "tsne"

    @property
    def names(self) -> list[str]:
        return [Path(p).name for p in self.paths]

    @property
    def predictions(self) -> np.ndarray:
        """1 (dog) where P(dog) > THRESHOLD, else 0: the verdict's rule."""
        return (self.dog_probability > THRESHOLD).astype(int)

    @property
    def misclassified(self) -> np.ndarray:
        return self.predictions != self.labels

    @property
    def collapsed(self) -> bool:
        """Every photo got the same features (dead units, say): the map is one point."""
        return not np.any(self.pca)

    def thumbnail_png(self, i: int) -> bytes:
        return to_png(self.thumbnails[i])

    def csv(self) -> str:
        """One row a photo: name, true class, P(dog), verdict, misclassified, both maps' coordinates."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["photo", "true", "p_dog", "verdict", "misclassified", "pca_x", "pca_y", "tsne_x", "tsne_y"])
        for i, name in enumerate(self.names):
            writer.writerow(
                [name, CLASS_NAMES[self.labels[i]], f"{self.dog_probability[i]:.6f}", CLASS_NAMES[self.predictions[i]],
                 int(self.misclassified[i]), *(f"{v:.5f}" for v in (*self.pca[i], *self.tsne[i]))]
            )
        return out.getvalue()


def photo_map(
    model: keras.Model,
    items: list[tuple[str, int]],
    seed: int = 13,
    batch_size: int = 32,
    on_batch: Callable[[int, int], None] | None = None,
) -> PhotoMap:
    """Every readable photo of `items` placed by `model`'s last hidden layer, by PCA and by t-SNE
    (seeded: the same weights, photos and seed give the same map). Kept in the shared memo.
    `on_batch(done, photos)` after each batch of the forward pass."""
    key = (weights_fingerprint(model), items_key(items), seed)
    return _maps.get(key, lambda: _photo_map(model, items, seed, batch_size, on_batch))


def _photo_map(model, items, seed, batch_size, on_batch) -> PhotoMap:
    started = time.perf_counter()
    decoded = decoded_images(items)
    kept = decoded.decode_all()
    layer = hidden_layer(model)
    forward = forward_to(model, (layer.name, model.layers[-1].name))
    found, done = [], 0
    for x in decoded.network_inputs(kept, batch_size):
        values, p = forward(tf.constant(x))
        found.append((values.numpy().reshape(len(x), -1), p.numpy()[:, 0]))
        done += len(x)
        if on_batch is not None:
            on_batch(done, len(kept))
    features = np.concatenate([f for f, _ in found]).astype("float64")
    dog_probability = np.concatenate([p for _, p in found])
    labels = decoded.labels[kept].astype(int)
    seconds = {"features": time.perf_counter() - started}

    started = time.perf_counter()
    pca, explained = pca_2d(features, labels)
    seconds["pca"] = time.perf_counter() - started
    started = time.perf_counter()
    tsne = tsne_2d(features, pca, seed)
    seconds["tsne"] = time.perf_counter() - started
    return PhotoMap(
        layer=layer.name,
        paths=[decoded.paths[i] for i in kept],
        labels=labels,
        dog_probability=dog_probability,
        pca=pca,
        tsne=tsne,
        explained=explained,
        dimensions=features.shape[1],
        thumbnails=np.stack([thumbnail(decoded.images[i], THUMBNAIL) for i in kept]),
        seconds=seconds,
    )


def principal_components(features: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(coordinates (n, k), each component's share of the variance (k,)) of the centred features,
    by singular value decomposition; fewer than k columns where the features have fewer."""
    x = np.asarray(features, dtype="float64")
    x = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    k = min(k, len(s))
    total = float(np.sum(s * s))
    shares = s[:k] ** 2 / total if total > 0 else np.zeros(k)
    return u[:, :k] * s[:k], shares


def pca_2d(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """The features' first two principal components, each flipped so that the dogs' mean is on its
    positive side (an SVD's signs are arbitrary: this keeps dogs on the right from epoch to epoch)."""
    coords, shares = principal_components(features, 2)
    coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    shares = np.pad(shares, (0, 2 - len(shares)))
    dogs = np.asarray(labels) == 1
    if dogs.any():
        coords = coords * np.where(coords[dogs].mean(axis=0) < 0, -1.0, 1.0)
    return coords, (float(shares[0]), float(shares[1]))


def tsne_2d(features: np.ndarray, pca: np.ndarray, seed: int) -> np.ndarray:
    """t-SNE of the features' first PCA_FIRST principal components, started from the PCA map
    (scaled small, as scikit-learn's own PCA start is) so it keeps the PCA map's orientation."""
    # Imported here: scikit-learn costs seconds of import that only a map needs.
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    n = len(features)
    reduced, _ = principal_components(features, PCA_FIRST)
    spread = float(np.std(pca[:, 0]))
    if n < 3 or spread == 0:  # too few photos, or one point: nothing to arrange
        return np.zeros((n, 2))
    tsne = TSNE(
        n_components=2,
        perplexity=min(PERPLEXITY, (n - 1) / 3),
        init=(pca / spread * 1e-4).astype("float32"),
        learning_rate="auto",
        max_iter=TSNE_STEPS,
        random_state=seed,
    )
    # One thread: on two cores that TensorFlow and other sessions share, OpenMP's team of threads
    # waited on each other at every step (500 photos: 21 s, against 3 s on one thread).
    with threadpool_limits(1):
        return tsne.fit_transform(reduced.astype("float32")).astype("float64")


def neighbour_accuracy(points: np.ndarray, labels: np.ndarray) -> float:
    """How often a photo's nearest other photo on the map has its true class (leave-one-out 1-NN):
    0.5 for a map that mixes the classes, 1 for one that separates them."""
    p = np.asarray(points, dtype="float64")
    d = ((p[:, None, :] - p[None, :, :]) ** 2).sum(axis=-1)
    np.fill_diagonal(d, np.inf)
    labels = np.asarray(labels)
    return float(np.mean(labels[d.argmin(axis=1)] == labels))
