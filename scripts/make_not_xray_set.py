"""Build the "not a chest X-ray" image set used to test the out-of-distribution gate.

The gate must refuse what people actually upload by mistake: photos, scanned documents,
screenshots, blank or noisy frames, gradients and colour charts. Everything here is made
offline from images that ship inside installed packages (matplotlib's sample data, scikit-learn's
sample images) or is drawn from scratch, so the set can be rebuilt anywhere, byte for byte
(fixed seeds, no timestamps or version strings in the files).

Usage::

    python scripts/make_not_xray_set.py [--out tests/fixtures/not_xray]

The folder is owned by this script: its images and SOURCES.md are replaced on every run.
"""

from __future__ import annotations

import argparse
import gzip
import io
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LightSource  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps  # noqa: E402

SEED = 20180222  # any fixed number; this one is the Kermany et al. publication date
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "not_xray"
SAMPLE_DATA = Path(matplotlib.get_data_path()) / "sample_data"
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"

MPL_SAMPLE = "matplotlib sample data"
SKLEARN_CHINA = "scikit-learn sample image china.jpg"
SKLEARN_FLOWER = "scikit-learn sample image flower.jpg"
GENERATED = "generated"

LICENCES: dict[str, str] = {
    MPL_SAMPLE: (
        "Shipped in matplotlib's `mpl-data/sample_data` folder. Its README says only that "
        "the folder holds \"sample data needed for some of matplotlib's examples and docs\"; "
        "the package gives no per-file author or licence, so these files are covered by what "
        "the package states as a whole: the Matplotlib License (a PSF-style licence, the "
        "`License:` field of matplotlib's METADATA). grace_hopper.jpg is commonly described "
        "as an official U.S. Navy portrait (public domain as a U.S. government work), but "
        "matplotlib itself does not say so."
    ),
    SKLEARN_CHINA: (
        "scikit-learn `sklearn/datasets/images/README.txt`: \"Released under a creative "
        "commons license\" — CC BY 2.0 (https://creativecommons.org/licenses/by/2.0/); "
        "attribution \"Some rights reserved by danielbuechele\"; source "
        "https://www.flickr.com/photos/danielbuechele/6061409035/, retrieved by Robert "
        "Layton. Derivatives here are crops, rescalings and grayscale versions."
    ),
    SKLEARN_FLOWER: (
        "scikit-learn `sklearn/datasets/images/README.txt`: \"Released under a creative "
        "commons license\" — CC BY 2.0 (https://creativecommons.org/licenses/by/2.0/); the "
        "README credits \"danielbuechele\" but links the photographer page "
        "https://www.flickr.com/photos/vultilion/ and the photo "
        "https://www.flickr.com/photos/vultilion/6056698931/ (the README's own inconsistency, "
        "kept as written). Derivatives here are crops, rescalings and grayscale versions."
    ),
    GENERATED: (
        "Drawn by this script from scratch (numpy, Pillow, matplotlib plots of made-up "
        "data); no third-party image content, same licence as this repository. Text is "
        "rendered with the DejaVu fonts shipped by matplotlib (Bitstream Vera licence, "
        "DejaVu changes public domain; `mpl-data/fonts/ttf/LICENSE_DEJAVU`), which permits "
        "this use; the words are random picks from a made-up word list."
    ),
}


@dataclass(frozen=True)
class Entry:
    """One image of the set and where it came from."""

    name: str
    category: str
    source: str
    how: str


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _fit(im: Image.Image, longest: int) -> Image.Image:
    """Resize so the longer side is ``longest`` pixels, keeping the aspect ratio."""
    scale = longest / max(im.size)
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    return im.resize(size, Image.Resampling.LANCZOS)


def _font(size: int, name: str = "DejaVuSans.ttf") -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / name), size)


def _figure_image(draw: Callable[[plt.Axes], None], size: tuple[float, float], dpi: int) -> Image.Image:
    """Render a matplotlib figure to a Pillow image without any file metadata."""
    fig, ax = plt.subplots(figsize=size, dpi=dpi)
    draw(ax)
    fig.tight_layout()
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    plt.close(fig)
    return Image.fromarray(rgba[:, :, :3].copy())


_SYLLABLES = ("ka", "lo", "mi", "ren", "to", "sa", "vel", "di", "nor", "pe", "qua", "ti", "ber",
              "lun", "ox", "fa", "ri", "mon", "zu", "el")


def _words(rng: np.random.Generator, n: int) -> list[str]:
    """Made-up words, so no real text is reproduced."""
    out = []
    for _ in range(n):
        k = int(rng.integers(1, 4))
        out.append("".join(_SYLLABLES[int(i)] for i in rng.integers(0, len(_SYLLABLES), k)))
    return out


def _paragraph(rng: np.random.Generator, n: int) -> str:
    words = _words(rng, n)
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


# ---------------------------------------------------------------------------------------------
# categories
# ---------------------------------------------------------------------------------------------


def photos(rng: np.random.Generator) -> list[tuple[Entry, Image.Image]]:
    """Real photographs, in colour and in the grayscale that is hardest for the gate."""
    from sklearn.datasets import load_sample_images

    hopper = Image.open(SAMPLE_DATA / "grace_hopper.jpg").convert("RGB")
    sample = load_sample_images()
    china = Image.fromarray(sample.images[0])
    flower = Image.fromarray(sample.images[1])
    mpl, cn, fl = MPL_SAMPLE, SKLEARN_CHINA, SKLEARN_FLOWER
    out: list[tuple[Entry, Image.Image]] = [
        (Entry("photo_hopper.jpg", "photo", mpl, "grace_hopper.jpg, 200 px"), _fit(hopper, 200)),
        (Entry("photo_hopper_gray.jpg", "photo", mpl, "grace_hopper.jpg, grayscale, 224 px"),
         _fit(hopper.convert("L"), 224)),
        (Entry("photo_hopper_face_crop.jpg", "photo", mpl, "grace_hopper.jpg, face crop"),
         _fit(hopper.crop((120, 40, 400, 330)), 160)),
        (Entry("photo_hopper_gray_inverted.png", "photo", mpl,
               "grace_hopper.jpg, grayscale, inverted (film-negative look)"),
         _fit(ImageOps.invert(hopper.convert("L")), 128)),
        (Entry("photo_china.jpg", "photo", cn, "china.jpg, 224 px"), _fit(china, 224)),
        (Entry("photo_china_gray.jpg", "photo", cn, "china.jpg, grayscale, 200 px"),
         _fit(china.convert("L"), 200)),
        (Entry("photo_china_crop_roof.jpg", "photo", cn, "china.jpg, crop of the roof"),
         _fit(china.crop((150, 60, 470, 300)), 160)),
        (Entry("photo_china_gray_lowcontrast.jpg", "photo", cn,
               "china.jpg, grayscale, contrast reduced to a third"),
         _fit(china.convert("L").point(lambda v: 85 + v // 3), 180)),
        (Entry("photo_flower.jpg", "photo", fl, "flower.jpg, 224 px"), _fit(flower, 224)),
        (Entry("photo_flower_gray.jpg", "photo", fl, "flower.jpg, grayscale, 192 px"),
         _fit(flower.convert("L"), 192)),
        (Entry("photo_flower_crop.jpg", "photo", fl, "flower.jpg, centre crop"),
         _fit(flower.crop((200, 100, 440, 340)), 144)),
        (Entry("photo_flower_rot90_blur.jpg", "photo", fl,
               "flower.jpg, rotated 90 degrees, blurred, grayscale"),
         _fit(flower.rotate(90, expand=True).convert("L").filter(ImageFilter.GaussianBlur(2)), 160)),
        (Entry("photo_china_tiny.png", "photo", cn, "china.jpg, 40 px thumbnail"),
         _fit(china, 40)),
    ]
    return out


def sample_renderings(rng: np.random.Generator) -> list[tuple[Entry, Image.Image]]:
    """Other pictures shipped as matplotlib sample data: icons, a logo, terrain, an MRI slice."""
    present = Image.open(SAMPLE_DATA / "Minduka_Present_Blue_Pack.png")
    present.load()
    logo = Image.open(SAMPLE_DATA / "logo2.png")
    logo.load()
    dem = np.load(SAMPLE_DATA / "jacksboro_fault_dem.npz")["elevation"]
    shade = LightSource(azdeg=315, altdeg=45).hillshade(dem, vert_exag=0.05)
    topo = np.load(SAMPLE_DATA / "topobathy.npz")["topo"]
    with gzip.open(SAMPLE_DATA / "s1045.ima.gz") as fh:
        mri = np.frombuffer(fh.read(), dtype=np.uint16).reshape(256, 256)
    mri8 = (mri.astype(np.float64) / max(float(mri.max()), 1.0) * 255).astype(np.uint8)

    def topo_plot(ax: plt.Axes) -> None:
        ax.imshow(topo, cmap="terrain")
        ax.set_axis_off()

    return [
        (Entry("icon_present_rgba.png", "icon", MPL_SAMPLE,
               "Minduka_Present_Blue_Pack.png, unchanged RGBA (transparent background)"),
         present.convert("RGBA")),
        (Entry("logo_matplotlib_rgba.png", "logo", MPL_SAMPLE, "logo2.png, 240 px, RGBA"),
         _fit(logo.convert("RGBA"), 240)),
        (Entry("terrain_hillshade_gray.png", "terrain", MPL_SAMPLE,
               "jacksboro_fault_dem.npz elevation, hill-shaded, grayscale"),
         _fit(Image.fromarray((shade * 255).astype(np.uint8)), 200)),
        (Entry("terrain_topobathy_colour.png", "terrain", MPL_SAMPLE,
               "topobathy.npz rendered with the 'terrain' colormap"),
         _figure_image(topo_plot, (2.4, 1.9), 80)),
        (Entry("mri_head_slice.png", "medical, not chest", MPL_SAMPLE,
               "s1045.ima.gz (a 256x256 16-bit MR slice), scaled to 8-bit"),
         Image.fromarray(mri8)),
    ]


def documents(rng: np.random.Generator) -> list[tuple[Entry, Image.Image]]:
    """Rendered text pages: letters, tables, code, a scan, dark mode."""
    out: list[tuple[Entry, Image.Image]] = []

    page = Image.new("L", (210, 297), 255)
    d = ImageDraw.Draw(page)
    d.text((16, 14), " ".join(_words(rng, 3)).title(), font=_font(12, "DejaVuSans-Bold.ttf"), fill=0)
    y = 38
    for _ in range(4):
        for line in textwrap.wrap(_paragraph(rng, 40), 42):
            d.text((16, y), line, font=_font(7), fill=20)
            y += 9
        y += 6
    out.append((Entry("doc_letter.png", "document", GENERATED, "A4-shaped page of text"), page))

    page = Image.new("RGB", (240, 320), (255, 255, 255))
    d = ImageDraw.Draw(page)
    d.rectangle((0, 0, 240, 26), fill=(30, 60, 120))
    d.text((10, 6), "REPORT " + _words(rng, 1)[0].upper(), font=_font(11, "DejaVuSans-Bold.ttf"),
           fill=(255, 255, 255))
    for col, x0 in enumerate((10, 126)):
        y = 36
        for line in textwrap.wrap(_paragraph(rng, 70), 24):
            d.text((x0, y), line, font=_font(7), fill=(40, 40, 40))
            y += 9
            if y > 305:
                break
    out.append((Entry("doc_two_column.png", "document", GENERATED, "two-column article, header bar"),
                page))

    page = Image.new("RGB", (260, 200), (250, 250, 245))
    d = ImageDraw.Draw(page)
    d.text((10, 8), "Invoice " + str(int(rng.integers(1000, 9999))), font=_font(12), fill=(0, 0, 0))
    for r in range(9):
        y = 34 + r * 17
        d.rectangle((10, y, 250, y + 17), outline=(150, 150, 150),
                    fill=(225, 235, 250) if r == 0 else None)
        cells = ["Item", "Qty", "Price"] if r == 0 else [
            _words(rng, 1)[0], str(int(rng.integers(1, 20))), f"{rng.uniform(1, 500):.2f}"]
        for c, x in enumerate((14, 150, 195)):
            d.text((x, y + 3), cells[c], font=_font(9), fill=(10, 10, 10))
    out.append((Entry("doc_table_invoice.png", "document", GENERATED, "invoice-like table"), page))

    page = Image.new("L", (220, 290), 236)
    d = ImageDraw.Draw(page)
    y = 16
    for _ in range(3):
        for line in textwrap.wrap(_paragraph(rng, 45), 40):
            d.text((18, y), line, font=_font(8, "DejaVuSerif.ttf"), fill=35)
            y += 11
        y += 8
    noise = rng.normal(0, 9, (290, 220))
    scan = np.clip(np.asarray(page, np.float64) + noise, 0, 255).astype(np.uint8)
    scan_im = Image.fromarray(scan).rotate(2.5, resample=Image.Resampling.BICUBIC, fillcolor=90)
    out.append((Entry("doc_scanned_gray.jpg", "document", GENERATED,
                      "text page with paper noise, slightly rotated, dark scanner border"),
                scan_im))

    page = Image.new("RGB", (256, 180), (24, 26, 30))
    d = ImageDraw.Draw(page)
    code_words = _words(rng, 30)
    for i in range(12):
        indent = 12 * int(rng.integers(0, 3))
        text = f"{code_words[i]} = {code_words[i + 12]}({int(rng.integers(0, 99))})"
        d.text((8 + indent, 8 + i * 14), text, font=_font(9, "DejaVuSansMono.ttf"),
               fill=[(200, 200, 200), (120, 200, 255), (240, 180, 90)][i % 3])
    out.append((Entry("doc_code_dark.png", "document", GENERATED,
                      "source-code-like listing in dark mode (monospace)"), page))

    page = Image.new("L", (300, 90), 255)
    d = ImageDraw.Draw(page)
    d.text((8, 20), _paragraph(rng, 4), font=_font(22, "DejaVuSerif-Bold.ttf"), fill=0)
    out.append((Entry("doc_banner_wide.png", "document", GENERATED, "wide banner with large text"),
                page))
    return out


def screenshots(rng: np.random.Generator) -> list[tuple[Entry, Image.Image]]:
    """Plots and application-like layouts, as a screenshot would show them."""
    x = np.linspace(0, 10, 200)
    values = rng.normal(size=(3, 200)).cumsum(axis=1)

    def line(ax: plt.Axes) -> None:
        for v in values:
            ax.plot(x, v)
        ax.set_title("trend")
        ax.grid(True)

    def bars(ax: plt.Axes) -> None:
        ax.bar(_words(rng, 5), rng.uniform(1, 10, 5), color="tab:orange")
        ax.tick_params(axis="x", labelsize=6)

    def scatter(ax: plt.Axes) -> None:
        pts = rng.normal(size=(2, 300))
        ax.scatter(pts[0], pts[1], c=pts[0] * pts[1], s=8, cmap="viridis")

    def heat(ax: plt.Axes) -> None:
        im = ax.imshow(rng.normal(size=(12, 12)).cumsum(axis=0), cmap="magma")
        plt.colorbar(im, ax=ax)

    def pie(ax: plt.Axes) -> None:
        ax.pie(rng.uniform(1, 5, 5), labels=_words(rng, 5), textprops={"fontsize": 6})

    def hist_gray(ax: plt.Axes) -> None:
        ax.hist(rng.normal(size=2000), bins=40, color="0.4")
        ax.set_facecolor("0.9")

    out: list[tuple[Entry, Image.Image]] = [
        (Entry("plot_line.png", "screenshot", GENERATED, "matplotlib line plot of random walks"),
         _figure_image(line, (2.6, 2.0), 80)),
        (Entry("plot_bar.png", "screenshot", GENERATED, "matplotlib bar chart"),
         _figure_image(bars, (2.4, 1.8), 80)),
        (Entry("plot_scatter.png", "screenshot", GENERATED, "matplotlib scatter plot"),
         _figure_image(scatter, (2.0, 2.0), 80)),
        (Entry("plot_heatmap.png", "screenshot", GENERATED, "matplotlib heatmap with colour bar"),
         _figure_image(heat, (2.4, 2.0), 80)),
        (Entry("plot_pie.png", "screenshot", GENERATED, "matplotlib pie chart"),
         _figure_image(pie, (2.0, 2.0), 80)),
        (Entry("plot_histogram_gray.png", "screenshot", GENERATED, "grayscale histogram"),
         _figure_image(hist_gray, (2.4, 1.8), 80)),
    ]

    def window(size: tuple[int, int], dark: bool) -> tuple[Image.Image, ImageDraw.ImageDraw]:
        bg, bar = ((32, 33, 36), (50, 52, 56)) if dark else ((246, 247, 249), (222, 225, 230))
        im = Image.new("RGB", size, bg)
        d = ImageDraw.Draw(im)
        d.rectangle((0, 0, size[0], 18), fill=bar)
        for i, colour in enumerate(((255, 95, 86), (255, 189, 46), (39, 201, 63))):
            d.ellipse((6 + i * 12, 5, 14 + i * 12, 13), fill=colour)
        return im, d

    form, d = window((240, 180), dark=False)
    for i, label in enumerate(_words(rng, 4)):
        y = 30 + i * 30
        d.text((12, y), label.capitalize(), font=_font(9), fill=(60, 60, 60))
        d.rectangle((80, y - 2, 228, y + 14), fill=(255, 255, 255), outline=(180, 180, 190))
    d.rounded_rectangle((150, 150, 228, 170), 5, fill=(37, 99, 235))
    d.text((172, 154), "Submit", font=_font(9), fill=(255, 255, 255))
    out.append((Entry("ui_form.png", "screenshot", GENERATED, "app window with a form and button"),
                form))

    dash, d = window((300, 200), dark=False)
    d.rectangle((0, 18, 60, 200), fill=(40, 44, 52))
    for i, word in enumerate(_words(rng, 6)):
        d.text((8, 28 + i * 18), word[:8], font=_font(8), fill=(210, 210, 210))
    for i in range(4):
        x0, y0 = 70 + (i % 2) * 115, 28 + (i // 2) * 85
        d.rounded_rectangle((x0, y0, x0 + 105, y0 + 75), 6, fill=(255, 255, 255),
                            outline=(215, 218, 224))
        d.text((x0 + 8, y0 + 8), str(int(rng.integers(10, 999))), font=_font(16), fill=(20, 20, 20))
        heights = rng.uniform(5, 30, 8)
        for j, h in enumerate(heights):
            d.rectangle((x0 + 8 + j * 11, y0 + 68 - h, x0 + 15 + j * 11, y0 + 68),
                        fill=(99, 102, 241))
    out.append((Entry("ui_dashboard.png", "screenshot", GENERATED,
                      "dashboard: sidebar, cards with numbers and bar sparklines"), dash))

    browser, d = window((220, 260), dark=True)
    for i in range(14):
        y = 24 + i * 16
        if i % 2:
            d.rectangle((0, y, 220, y + 16), fill=(40, 42, 46))
        d.rectangle((8, y + 3, 18, y + 13), fill=(230, 180, 70) if i < 4 else (140, 160, 190))
        d.text((26, y + 2), _words(rng, 1)[0] + (".txt" if i >= 4 else ""), font=_font(9),
               fill=(220, 220, 220))
    out.append((Entry("ui_file_browser_dark.png", "screenshot", GENERATED,
                      "dark-mode file list"), browser))
    return out


def blanks(rng: np.random.Generator) -> list[tuple[Entry, Image.Image]]:
    """Flat frames: what an empty capture or a wrong export looks like."""
    dark = np.clip(rng.normal(8, 3, (200, 160)), 0, 255).astype(np.uint8)
    return [
        (Entry("blank_white.png", "blank", GENERATED, "all 255"), Image.new("L", (224, 224), 255)),
        (Entry("blank_black.png", "blank", GENERATED, "all 0"), Image.new("L", (224, 224), 0)),
        (Entry("blank_grey.png", "blank", GENERATED, "all 128"), Image.new("L", (256, 192), 128)),
        (Entry("blank_white_rgb.jpg", "blank", GENERATED, "white RGB JPEG"),
         Image.new("RGB", (320, 240), (255, 255, 255))),
        (Entry("blank_near_black_noise.png", "blank", GENERATED,
               "near-black with faint sensor-like noise"), Image.fromarray(dark)),
    ]


def noise(rng: np.random.Generator) -> list[tuple[Entry, Image.Image]]:
    """Pure noise, in several distributions and smoothings."""
    smooth = Image.fromarray(rng.integers(0, 256, (128, 128), dtype=np.uint8)).filter(
        ImageFilter.GaussianBlur(4))
    smooth = ImageOps.autocontrast(smooth)
    salt = rng.choice(np.array([0, 255], np.uint8), size=(96, 96), p=[0.5, 0.5])
    return [
        (Entry("noise_uniform_gray.png", "noise", GENERATED, "uniform 0-255, 96x96"),
         Image.fromarray(rng.integers(0, 256, (96, 96), dtype=np.uint8))),
        (Entry("noise_gaussian_gray.png", "noise", GENERATED, "gaussian mean 128 sd 40, 96x96"),
         Image.fromarray(np.clip(rng.normal(128, 40, (96, 96)), 0, 255).astype(np.uint8))),
        (Entry("noise_uniform_rgb.jpg", "noise", GENERATED, "uniform RGB noise, JPEG, 128x96"),
         Image.fromarray(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8))),
        (Entry("noise_salt_pepper.png", "noise", GENERATED, "black/white salt-and-pepper"),
         Image.fromarray(salt)),
        (Entry("noise_smoothed_clouds.jpg", "noise", GENERATED,
               "blurred uniform noise, contrast-stretched (cloud-like)"), smooth),
    ]


def gradients(rng: np.random.Generator) -> list[tuple[Entry, Image.Image]]:
    """Smooth ramps, including a radial one with a bright centre and a 16-bit PNG."""
    h, w = 160, 200
    yy, xx = np.mgrid[0:h, 0:w]
    horiz = (xx / (w - 1) * 255).astype(np.uint8)
    radius = np.hypot(yy - h / 2, xx - w / 2) / np.hypot(h / 2, w / 2)
    radial = ((1 - radius) * 255).clip(0, 255).astype(np.uint8)
    diag = np.stack([xx / (w - 1), yy / (h - 1), 1 - xx / (w - 1)], axis=-1)
    vert16 = (np.mgrid[0:128, 0:96][0] / 127 * 4095).astype(np.uint16)  # 12 bits in 16
    return [
        (Entry("gradient_horizontal_gray.png", "gradient", GENERATED, "black to white, left to right"),
         Image.fromarray(horiz)),
        (Entry("gradient_radial_gray.png", "gradient", GENERATED, "bright centre fading out"),
         Image.fromarray(radial)),
        (Entry("gradient_diagonal_rgb.png", "gradient", GENERATED, "RGB ramps along both axes"),
         Image.fromarray((diag * 255).astype(np.uint8))),
        (Entry("gradient_vertical_16bit.png", "gradient", GENERATED,
               "16-bit grayscale PNG, 12-bit values top to bottom"),
         Image.fromarray(vert16)),
    ]


def colour_charts(rng: np.random.Generator) -> list[tuple[Entry, Image.Image]]:
    """Test charts: patches, bars, a hue wheel, a palette image, a 1-bit checkerboard."""
    out: list[tuple[Entry, Image.Image]] = []
    patches = Image.new("RGB", (240, 160), (20, 20, 20))
    d = ImageDraw.Draw(patches)
    colours = rng.integers(30, 246, (24, 3))
    for i, c in enumerate(colours):
        x0, y0 = 8 + (i % 6) * 38, 8 + (i // 6) * 38
        d.rectangle((x0, y0, x0 + 32, y0 + 32), fill=tuple(int(v) for v in c))
    out.append((Entry("chart_colour_patches.png", "colour chart", GENERATED,
                      "6x4 grid of random colour patches on black"), patches))

    bars = Image.new("RGB", (224, 140))
    d = ImageDraw.Draw(bars)
    palette = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0),
               (192, 0, 192), (192, 0, 0), (0, 0, 192)]
    for i, c in enumerate(palette):
        d.rectangle((i * 32, 0, i * 32 + 31, 105), fill=c)
    for i in range(8):
        d.rectangle((i * 28, 106, i * 28 + 27, 140), fill=(i * 36,) * 3)
    out.append((Entry("chart_colour_bars.jpg", "colour chart", GENERATED,
                      "television-style colour bars with a gray step wedge"), bars))

    yy, xx = np.mgrid[-1:1:160j, -1:1:160j]
    hue = ((np.arctan2(yy, xx) / (2 * np.pi)) % 1.0 * 255).astype(np.uint8)
    sat = (np.clip(np.hypot(xx, yy), 0, 1) * 255).astype(np.uint8)
    hsv = np.stack([hue, sat, np.full_like(hue, 255)], axis=-1)
    wheel = Image.fromarray(hsv, "HSV").convert("RGB")
    out.append((Entry("chart_hue_wheel.png", "colour chart", GENERATED, "HSV hue/saturation disc"),
                wheel))

    pal = Image.new("P", (192, 96))
    pal.putpalette([int(v) for v in rng.integers(0, 256, 16 * 3)])
    d = ImageDraw.Draw(pal)
    for i in range(16):
        d.rectangle(((i % 8) * 24, (i // 8) * 48, (i % 8) * 24 + 23, (i // 8) * 48 + 47), fill=i)
    out.append((Entry("chart_palette_16.png", "colour chart", GENERATED,
                      "palette-mode (P) PNG with 16 random colours"), pal))

    checker = ((np.add.outer(np.arange(128) // 16, np.arange(128) // 16) % 2) * 255).astype(np.uint8)
    out.append((Entry("chart_checkerboard_1bit.png", "colour chart", GENERATED,
                      "black/white checkerboard saved as a 1-bit PNG"),
                Image.fromarray(checker).convert("1")))
    return out


# ---------------------------------------------------------------------------------------------
# assembly
# ---------------------------------------------------------------------------------------------

BUILDERS = (photos, sample_renderings, documents, screenshots, blanks, noise, gradients,
            colour_charts)


def _encode(entry: Entry, im: Image.Image) -> bytes:
    """JPEG at quality 80 or optimised PNG, with no metadata."""
    buf = io.BytesIO()
    if entry.name.endswith(".jpg"):
        im.convert("L" if im.mode == "L" else "RGB").save(buf, "JPEG", quality=80)
    else:
        im.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _sources_md(rows: list[tuple[Entry, int]]) -> str:
    """SOURCES.md: what each file is, where it came from, and the licence of that source."""
    lines = [
        "# Not-a-chest-X-ray fixtures",
        "",
        "Generated by `scripts/make_not_xray_set.py` (deterministic; re-run it rather than",
        "editing these files). Used to test that uploads decode and that the out-of-distribution",
        "gate refuses what is not a chest radiograph.",
        "",
        "| file | category | bytes | how it was made | source |",
        "| --- | --- | ---: | --- | --- |",
    ]
    for entry, size in rows:
        lines.append(f"| {entry.name} | {entry.category} | {size} | {entry.how} | {entry.source} |")
    lines += ["", "## Sources and licences", ""]
    for source, text in LICENCES.items():
        lines += [f"- **{source}**: {text}", ""]
    return "\n".join(lines)


def build(out_dir: Path, seed: int = SEED) -> list[tuple[Entry, int]]:
    """Write every image and SOURCES.md into ``out_dir``; return (entry, size in bytes)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.iterdir():
        if old.suffix.lower() in (".png", ".jpg") or old.name == "SOURCES.md":
            old.unlink()
    rng = np.random.default_rng(seed)
    rows: list[tuple[Entry, int]] = []
    for builder in BUILDERS:
        for entry, im in builder(rng):
            data = _encode(entry, im)
            (out_dir / entry.name).write_bytes(data)
            rows.append((entry, len(data)))
    names = [e.name for e, _ in rows]
    if len(names) != len(set(names)):
        raise RuntimeError("duplicate fixture names")
    (out_dir / "SOURCES.md").write_text(_sources_md(rows), encoding="utf-8")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    rows = build(args.out, args.seed)
    total = sum(size for _, size in rows)
    print(f"wrote {len(rows)} images, {total / 1024:.0f} KiB, to {args.out}")


if __name__ == "__main__":
    main()
