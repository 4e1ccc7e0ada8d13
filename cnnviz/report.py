"""Everything cnnviz shows for one photo, computed once: `photo_report(model, photo)`.

The Layer Explorer, its Export tab, `python -m cnnviz inspect` and
benchmarks/explorer_latency.py all draw from one PhotoReport, so the numbers a person
sees, downloads and prints come from one forward pass. Only that pass and the verdict, which
every view shows, are computed when the report is made; every other part (the feature-map
mosaics, filters, Grad-CAM and saliency, the convolution check, the dense layer's
arithmetic, the overview picture, occlusion and the fast-gradient-sign attack) when first
asked for and then kept. The Explorer computes only the tab a
visitor has open, so its first paint waits for nothing it does not draw.

A report reads the model's weights as they are when each part is computed: callers that
keep one (the Explorer's per-session memo) key it by the weights' fingerprint.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from cnnviz import pictures
from cnnviz.adversarial import Fooled, amplification, amplified, attack_direction, epsilon_words, fool, random_direction, smallest_flip
from cnnviz.backend import keras
from cnnviz.explain import Explanation, explain, normalise01, overlay
from cnnviz.images import Photo
from cnnviz.inspect import (
    ConvCheck,
    FilterStats,
    UnscaledTest,
    Verdict,
    activations,
    conv_filters,
    convolution_check,
    filter_stats,
    first_conv_maps,
    hidden_layer,
    output_layer,
    score_words,
    unscaled_pixels,
    unscaled_test,
    verdict,
)
from cnnviz.model import layer_table
from cnnviz.mosaic import feature_mosaic, feature_mosaic_png, filter_mosaic, to_png, upscale
from cnnviz.occlusion import Occlusion, agreement, occlusion
from cnnviz.overview import Overview, overview

MAP_KINDS = ("convolution", "relu", "batch norm", "max pooling")  # layers whose output is a stack of maps to show
MOSAIC_COLUMNS = 8
FILTER_SCALE = 12  # each 3x3 weight drawn as a 12x12 square
VIEW_SCALE = 2  # the 150x150 network input shown at 300x300 under Grad-CAM and in the convolution check


@dataclass(frozen=True)
class DenseReadout:
    """The output layer's arithmetic, from the values it weighs to z, the sigmoid's input."""

    hidden: str  # the layer whose values the output layer weighs: the hidden dense layer, or global average pooling
    output: str  # the output dense layer
    inputs: int  # how many values each hidden unit weighs (flattened values), or the maps each pooled value averages
    pooled: bool  # the values are global averages of the last maps, not dense units
    values: np.ndarray  # (units,): the hidden units after their ReLU
    weights: np.ndarray  # (units,): the output layer's weight for each unit
    bias: float  # the output layer's bias
    weighted_sum: float  # values @ weights
    z: float  # the output layer's value as the network computed it: weighted_sum + bias


@dataclass(frozen=True, eq=False)  # eq=False: compared and hashed by identity, as a memo holds it
class PhotoReport:
    model: keras.Model
    photo: Photo
    kinds: dict[str, str]  # layer name -> kind, as in cnnviz.model.layer_table
    activations: dict[str, np.ndarray]  # every layer's output, batch axis removed, in layer order
    verdict: Verdict
    _checks: dict[int, ConvCheck] = field(default_factory=dict, repr=False)
    _filter_pngs: dict[tuple[str, int | None], bytes] = field(default_factory=dict, repr=False)

    # --- feature maps ----------------------------------------------------------------------

    @cached_property
    def mosaics(self) -> dict[str, bytes]:
        """Each convolution, ReLU and pooling layer's maps, as palette PNG bytes, in layer order."""
        names = self.map_layers()
        # PNG bytes made here go to the browser as they are (st.image would re-encode an array
        # with Pillow, several times slower); numpy and ISA-L's deflate release the GIL, so two at once.
        with ThreadPoolExecutor(max_workers=2) as pool:
            pngs = pool.map(lambda name: feature_mosaic_png(self.activations[name], cols=MOSAIC_COLUMNS), names)
            return dict(zip(names, pngs))

    def map_layers(self) -> list[str]:
        """The layers whose output is a stack of maps to show (MAP_KINDS): the mosaics' layers."""
        return [name for name, a in self.activations.items() if a.ndim == 3 and self.kinds[name] in MAP_KINDS]

    def stages(self) -> list[list[str]]:
        """The mosaics' layers in stages: a convolution, its ReLU and the pooling after it."""
        stages: list[list[str]] = []
        for name in self.map_layers():
            if self.kinds[name] == "convolution" or not stages:
                stages.append([])
            stages[-1].append(name)
        return stages

    def strongest_filter(self, layer: str) -> int:
        """The filter (channel) of `layer` whose map reaches the largest value anywhere on this photo."""
        return int(self.activations[layer].max(axis=(0, 1)).argmax())

    def feature_map(self, layer: str, channel: int) -> np.ndarray:
        return self.activations[layer][:, :, channel]

    def numbered_layers(self) -> Iterator[tuple[int, str]]:
        """(1-based position, name) of every layer: the numbers in exported and written file names."""
        return enumerate(self.activations, start=1)

    def layer_png(self, layer: str) -> bytes:
        """Any layer's output as a PNG: its mosaic, or a 1-D output as one strip of squares."""
        if layer in self.mosaics:
            return self.mosaics[layer]
        output = self.activations[layer]
        if output.ndim == 3:
            return feature_mosaic_png(output, cols=MOSAIC_COLUMNS)
        return to_png(upscale(feature_mosaic(output[None, :, None]), FILTER_SCALE))

    @cached_property
    def first_conv(self) -> tuple[str, np.ndarray]:
        """(layer name, maps) of the first convolution after its ReLU, from the one forward pass."""
        return first_conv_maps(self.model, self.activations)

    @cached_property
    def overview(self) -> Overview:
        """The photo, a column per ReLU and pooling layer with its strongest maps, and the verdict, in one picture."""
        return overview(self.photo.network_input, self.activations, self.kinds, self.verdict)

    # --- filters ------------------------------------------------------------------------------

    @cached_property
    def filters(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each convolution layer's (kernel (kh, kw, in, out), bias (out,))."""
        return conv_filters(self.model)

    def filter_png(self, layer: str, channel: int | None = None) -> bytes:
        """A convolution's filters as a PNG: in colour (channel None, first layer), else one input channel's slice."""
        key = (layer, channel)
        if key not in self._filter_pngs:
            self._filter_pngs[key] = to_png(filter_mosaic(self.filters[layer][0], channel=channel, scale=FILTER_SCALE))
        return self._filter_pngs[key]

    # --- the verdict's arithmetic ---------------------------------------------------------------

    @cached_property
    def dense(self) -> DenseReadout:
        layers = self.model.layers
        output = output_layer(self.model)
        at = layers.index(output)
        # What the output weighs is the layer before it; dropout passes values through when testing,
        # and a ReLU is its dense layer's: name the layer that made the values.
        values = self.activations[hidden_layer(self.model).name].ravel()
        source = next(layer for layer in reversed(layers[:at]) if not isinstance(layer, (keras.layers.Dropout, keras.layers.Activation)))
        pooled = not isinstance(source, keras.layers.Dense)
        kernel, bias = (keras.ops.convert_to_numpy(w) for w in output.weights)
        weights = kernel[:, 0]
        return DenseReadout(
            hidden=source.name,
            output=output.name,
            inputs=int(np.prod(source.input.shape[1:-1])) if pooled else int(source.input.shape[-1]),
            pooled=pooled,
            values=values,
            weights=weights,
            bias=float(bias[0]),
            weighted_sum=float(values @ weights),
            z=float(self.activations[output.name].ravel()[0]),
        )

    # --- where it looked --------------------------------------------------------------------------

    @cached_property
    def explanation(self) -> Explanation:
        """Both Grad-CAMs and the saliency map: gradients, so computed only when asked for."""
        return explain(self.model, self.photo.network_input)

    @cached_property
    def looked(self) -> dict[str, np.ndarray]:
        """"gradcam-dog", "gradcam-cat", "saliency": each map over the network input at VIEW_SCALE."""
        view = pictures.network_view(self.photo.network_input, VIEW_SCALE)
        found = self.explanation
        return {
            "gradcam-dog": overlay(view, found.grad_cams["dog"].heatmap),
            "gradcam-cat": overlay(view, found.grad_cams["cat"].heatmap),
            "saliency": overlay(view, found.saliency, alpha=0.8, cmap="hot", lift=1.0),
        }

    # --- occlusion: hiding parts of the photo, against Grad-CAM ------------------------------------

    @cached_property
    def occlusion(self) -> Occlusion:
        """How much P(verdict's class) drops where a grey square hides the photo (default square and stride)."""
        return occlusion(self.model, self.photo.network_input, self.verdict.label)

    @cached_property
    def occlusion_agreement(self) -> float | None:
        """Spearman's rank correlation of the occlusion drops with the verdict class's Grad-CAM
        (`cnnviz.occlusion.agreement`); None when either map is blank."""
        return agreement(self.occlusion, self.explanation.grad_cams[self.verdict.label].heatmap)

    @cached_property
    def occluded(self) -> np.ndarray:
        """The drops where they are positive (hiding there lowered the score), over the photo at
        VIEW_SCALE, coloured as Grad-CAM is: looked["gradcam-" + verdict's label] is its twin.
        Like Grad-CAM's, the colours are scaled to the largest drop, however small: say its size
        (`Occlusion.largest_drop`) beside the picture."""
        view = pictures.network_view(self.photo.network_input, VIEW_SCALE)
        return overlay(view, normalise01(np.maximum(self.occlusion.heatmap, 0.0)))

    def occlusion_figure(self) -> np.ndarray:
        """The occlusion map beside the same class's Grad-CAM, with the largest drop and the agreement."""
        found, label = self.occlusion, self.verdict.label
        drop = max(found.largest_drop[0], 0.0)
        agree = "none (a blank map)" if self.occlusion_agreement is None else f"{self.occlusion_agreement:+.2f}"
        return pictures.captioned(
            [self.occluded, self.looked[f"gradcam-{label}"]],
            [
                f"Occlusion: how much P({label}) drops\nwhen a {found.size}-pixel grey square hides it\nlargest drop {drop:.3f}",
                f"Grad-CAM for {label}\n\nagreement (Spearman): {agree}",
            ],
        )

    # --- fooling it: the fast gradient sign method ------------------------------------------------

    @cached_property
    def attack_direction(self) -> np.ndarray:
        """The sign of the loss's gradient against the verdict, for every input value: -1, 0 or +1."""
        return attack_direction(self.model, self.photo.network_input, self.verdict.label)

    @cached_property
    def smallest_flip(self) -> float | None:
        """The smallest ε along attack_direction that flips the verdict (cnnviz.adversarial.smallest_flip)."""
        return smallest_flip(self.model, self.photo.network_input, self.attack_direction, self.verdict)

    def fooled(self, epsilon: float) -> Fooled:
        """The photo moved by epsilon along attack_direction, and the verdict on it."""
        return fool(self.model, self.photo.network_input, epsilon, self.attack_direction, self.verdict)

    def noised(self, epsilon: float) -> Fooled:
        """The control: the photo moved by the same epsilon in random directions (fixed signs), and the verdict on it."""
        direction = random_direction(self.photo.network_input.shape)
        return fool(self.model, self.photo.network_input, epsilon, direction, self.verdict)

    def fooled_pictures(self, epsilon: float) -> tuple[Fooled, list[np.ndarray]]:
        """The attack at epsilon, and its pictures at VIEW_SCALE: before, the change amplified (±ε black
        and white, mid grey none), after."""
        fooled = self.fooled(epsilon)
        change = upscale(amplified(self.photo.network_input, fooled.perturbed, epsilon), VIEW_SCALE)
        before, after = (pictures.network_view(x, VIEW_SCALE) for x in (self.photo.network_input, fooled.perturbed))
        return fooled, [before, change, after]

    def fooled_figure(self, epsilon: float) -> np.ndarray:
        """Before, the change amplified (±ε at each colour channel's ends), and after, each with its verdict."""
        fooled, images = self.fooled_pictures(epsilon)
        return pictures.captioned(
            images,
            [
                f"before: {self.verdict.label}\n{score_words(self.verdict)}",
                (f"the change, amplified {amplification(epsilon):.0f}x\nevery value moved ±ε at most\n{epsilon_words(epsilon)}"
                 if epsilon > 0 else "no change: ε = 0"),
                f"after: {fooled.after.label}\n{score_words(fooled.after)}",
            ],
        )

    @cached_property
    def first_filter_stats(self) -> FilterStats:
        """The first convolution's weights against the random start Keras gives them."""
        return filter_stats(next(iter(self.filters.values()))[0])

    # --- the tutorial's test: unscaled pixels, `== 1` ---------------------------------------------

    @cached_property
    def unscaled_activations(self) -> dict[str, np.ndarray]:
        """Every layer's output for the photo at 0-255, as the tutorial fed its test image: one more pass."""
        return activations(self.model, unscaled_pixels(self.photo.network_input))

    @cached_property
    def unscaled_test(self) -> UnscaledTest:
        """The photo scaled and unscaled through the model: logits, P(dog), `== 1`, and the verdict by RULE."""
        return unscaled_test(
            self.model, self.photo.network_input, scaled_outputs=self.activations, unscaled_outputs=self.unscaled_activations
        )

    # --- is it really convolving? --------------------------------------------------------------

    def convolution_check(self, filter_index: int = 0) -> ConvCheck:
        """The check for one first-layer filter, against this report's own feature maps: no second pass."""
        if filter_index not in self._checks:
            self._checks[filter_index] = convolution_check(
                self.model,
                self.photo.network_input,
                filter_index,
                feature_maps=self.first_conv[1],
                unscaled_maps=first_conv_maps(self.model, self.unscaled_activations)[1],
            )
        return self._checks[filter_index]

    @cached_property
    def tutorial_median_correlation(self) -> float | None:
        """The median, over the first-layer filters that fire on this photo, of the tutorial's map's
        correlation with the network's unscaled map; None when no filter gives a correlation."""
        firing = self.convolution_check(0).firing
        found = [r for k in firing if (r := self.convolution_check(k).tutorial_correlation) is not None]
        return float(np.median(found)) if found else None

    def convolution_pictures(self, filter_index: int = 0) -> list[np.ndarray]:
        """Five maps at VIEW_SCALE: the network's, correlate2d's and flipped convolve2d's, coloured on the
        network map's range; then the network's map of the unscaled photo and the tutorial's check, each on
        its own range (their units differ: the tutorial's grey is in [0, 1], the network's input 0-255)."""
        check = self.convolution_check(filter_index)
        same = pictures.shared_scale([check.network, check.correlate, check.flipped_convolve], check.network)
        own = [pictures.shared_scale([m], m)[0] for m in (check.tutorial_reference, check.tutorial)]
        return [upscale(image, VIEW_SCALE) for image in same + own]


def photo_report(model: keras.Model, photo: Photo) -> PhotoReport:
    """One photo through `model`: every layer's output in one pass, and the verdict; the rest when asked for."""
    acts = activations(model, photo.network_input)
    kinds = {row.name: row.kind for row in layer_table(model)}
    last = model.layers[-1].name
    return PhotoReport(model, photo, kinds, acts, verdict(float(acts[last].ravel()[0])))
