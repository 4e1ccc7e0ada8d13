"""The Layer Explorer's main figures for one photo, as PNG files and one "workshop pack" zip.

A presenter preparing slides, or an attendee going home, gets the same pictures the app
draws, computed from the same weights: the photo and what the network gets, the verdict in
words, every layer's feature maps, the filters, where the network looked, the convolution
check with its numbers, the overview, occlusion beside Grad-CAM, the photo fooled (FGSM), and
what a filter looks for. Not every figure: `LEFT_OUT` says which are not.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import numpy as np

from cnnviz import RULE, pictures
from cnnviz.adversarial import MAX_EPSILON, epsilon_words, flip_words
from cnnviz.inspect import SCORE_NOTE, check_lines, verdict_words
from cnnviz.maximise import MEANING, Unit, looks_for_words, made_input, top_patches
from cnnviz.maximise import figure as looks_for_figure
from cnnviz.mosaic import to_png
from cnnviz.occlusion import agreement_meaning, occlusion_words
from cnnviz.overview import MAPS_PER_COLUMN
from cnnviz.report import PhotoReport

# The parts of the pack, in the order `image_figures` puts them together (its `on_step` hears each).
PARTS = (
    "the photo",
    "every layer's feature maps",
    "the filters",
    "where the network looked",
    "the convolution check",
    "the overview",
    "occlusion",
    "fooling it",
    "what a filter looks for",
)

# What the Explorer shows that the pack does not hold, said in the pack's README and the Export tab.
LEFT_OUT = (
    "the pixel-number patch",
    "the dense layer's chart",
    "the step-through and max-pooling figures",
    "the tutorial's unscaled `== 1` test (its numbers are in 03-verdict.txt)",
    "the deeper layers' filters for every input channel but channel 0",
)
GRAD_CAM_KEY = (
    "Grad-CAM: red where the features raised that class's score most (relative to the map's own peak); "
    "untinted where they did not raise it (zero, or pushed towards the other class). "
    "Saliency: bright where a small change of the pixel moves the score most."
)


def image_figures(
    report: PhotoReport,
    description: str = "",
    on_step: Callable[[str], None] | None = None,
    filter_index: int = 0,
    epsilon: float | None = None,
    unit: Unit | None = None,
    photos: list[tuple[str, int]] | None = None,
) -> dict[str, bytes]:
    """File name -> PNG (or text) bytes of every figure of one photo's report (cnnviz.report).

    Built from what the report holds, so an Explorer that has the report computes nothing
    twice; what it has not computed yet (Grad-CAM, say) it computes once, for both.
    `description` says which weights these are, for the verdict's text; `on_step` hears the
    name of each part as it is put together (a progress line); `filter_index` is the
    first-layer filter of the convolution check (the one the Explorer's panel shows);
    `epsilon` the fooled photo's (None: the smallest that flips the verdict, or MAX_EPSILON);
    `unit` a unit of cnnviz.maximise whose made input to add, beside the nine strongest patches
    of `photos` (labelled paths, searched as `maximise.top_patches` does) when given.
    """

    def step(name: str) -> None:
        if on_step:
            on_step(name)

    files: dict[str, bytes] = {}
    step("the photo")
    files["01-photo.png"] = to_png(report.photo.original)
    files["02-network-input.png"] = to_png(pictures.network_view(report.photo.network_input, 2))

    step("every layer's feature maps")
    files["03-verdict.txt"] = _verdict_text(report, description).encode()
    for i, name in report.numbered_layers():
        if name in report.mosaics:
            files[f"04-feature-maps/{i:02d}-{name}.png"] = report.mosaics[name]

    step("the filters")
    for name, (kernel, _bias) in report.filters.items():
        if kernel.shape[2] == 3:
            files[f"05-filters/{name}-rgb.png"] = report.filter_png(name)
            for c, colour in enumerate(("red", "green", "blue")):
                files[f"05-filters/{name}-{colour}.png"] = report.filter_png(name, c)
        else:
            files[f"05-filters/{name}-input-channel-0.png"] = report.filter_png(name, 0)

    step("where the network looked")
    files["06-where-it-looked/grad-cam-dog.png"] = to_png(report.looked["gradcam-dog"])
    files["06-where-it-looked/grad-cam-cat.png"] = to_png(report.looked["gradcam-cat"])
    files["06-where-it-looked/saliency.png"] = to_png(report.looked["saliency"])

    step("the convolution check")
    gap = ((0, 0), (0, 8), (0, 0))  # a white band between the four maps
    strip = np.concatenate([np.pad(m, gap, constant_values=255) for m in report.convolution_pictures(filter_index)], axis=1)
    files["07-convolution-check.png"] = to_png(strip)
    files["07-convolution-check.txt"] = _check_text(report.convolution_check(filter_index)).encode()

    step("the overview")
    files["08-overview.png"] = report.overview.png

    step("occlusion")
    files["09-occlusion.png"] = to_png(report.occlusion_figure())
    files["09-occlusion.txt"] = (
        f"{occlusion_words(report.occlusion, report.occlusion_agreement)}\n{agreement_meaning(report.occlusion_agreement)}\n"
    ).encode()

    step("fooling it")
    if epsilon is None:
        epsilon = report.smallest_flip or MAX_EPSILON
    files["10-fooled.png"] = to_png(report.fooled_figure(epsilon))
    files["10-fooled.txt"] = (
        f"{flip_words(report.verdict, report.smallest_flip)}.\n"
        f"At {epsilon_words(epsilon)}: {verdict_words(report.fooled(epsilon).after)}; "
        f"random ±ε signs instead: {verdict_words(report.noised(epsilon).after)}.\n"
    ).encode()

    if unit is not None:
        step("what a filter looks for")
        made = made_input(report.model, unit)
        patches = top_patches(report.model, unit, photos) if photos else None
        files[f"11-{unit.stem.replace('_', '-')}.png"] = to_png(looks_for_figure(made, patches))
        files["11-looks-for.txt"] = f"{looks_for_words(made, patches)}\n{MEANING}\n".encode()
    files["README.txt"] = _readme(files, description).encode()
    return files


def _verdict_text(report: PhotoReport, description: str) -> str:
    v = report.verdict
    lines = [
        f"Verdict: {verdict_words(v)}",
        f"P(dog) = {v.dog_probability:.4f} ({RULE})",
        SCORE_NOTE,
    ]
    if description:
        lines.append(f"Weights: {description}")
    lines.append("The tutorial's test (unscaled 0-255 pixels, prediction == 1) on the same photo:")
    lines += [f"  {sentence.replace('**', '')}" for sentence in report.unscaled_test.sentences()]
    return "\n".join(lines) + "\n"


def _check_text(check) -> str:
    lines = [
        f"First-layer filter {check.filter_index}: its feature map recomputed by hand, compared with the network's own.",
        "Left to right in the PNG: the network's map, correlate2d, flipped convolve2d (these three on the network map's "
        "range); the network's map of the unscaled photo, the tutorial's check (each on its own range).",
    ]
    lines += [f"{name}: max |difference| = {d:.3g}" for name, d in check.max_abs_difference.items()]
    lines += check_lines(check)
    return "\n".join(lines) + "\n"


def _readme(files: dict[str, bytes], description: str = "") -> str:
    listing = "\n".join(f"  {name}" for name in files)
    weights = f"Weights: {description}.\n" if description else ""
    return (
        "cnnviz workshop pack: the Layer Explorer's main figures for one photo.\n"
        + weights
        + f"Not included: {'; '.join(LEFT_OUT)}.\n"
        "Feature maps: each map coloured on its own scale (yellow its largest value, dark blue its smallest).\n"
        "Filters: RGB, then one input channel at a time (red positive weight, blue negative).\n"
        f"{GRAD_CAM_KEY}\n"
        f"Overview: the photo, the {MAPS_PER_COLUMN} maps of highest mean of each ReLU and pooling layer, the verdict.\n"
        "Occlusion: red where hiding a grey square lowered P(verdict's class) most, beside that class's Grad-CAM.\n"
        "Fooled: the photo, the change amplified (each colour value moved ±ε, shown at its channel's full or none), the fooled photo.\n"
        "What a filter looks for (when there): the input made to excite it, the receptive field of its strongest value "
        "framed in red, beside the photo patches that excite it most.\n"
        f"Files:\n{listing}\n  README.txt\n"
    )


def zip_bytes(files: dict[str, bytes], folder: str = "") -> bytes:
    """A zip of name -> bytes, optionally inside one folder, so it unpacks tidily."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(f"{folder}/{name}" if folder else name, data)
    return buffer.getvalue()

