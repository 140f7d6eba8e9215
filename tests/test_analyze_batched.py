"""`mammo analyze` in batches (`--batch-size`, the GPU path `--device cuda` runs the same code): several exams' forward
passes batched give each exam the result it gets alone (on CPU, within 1e-5 on the scores and with the same findings),
a bad exam in a batch fails alone, and a device or batch size that cannot be used is refused in one line."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mammo_lib.cli import main
from mammo_lib.system import analyze
from test_analyze import _exam_the_detector_finds

pytest.importorskip("highdicom")
#: Largest difference allowed between a batched and an unbatched score (the JSON's rounded values).
SCORE_TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def exams(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Three rendered twin patients: one with masses the detector finds, one unilateral, one more bilateral."""
    from mammo_lib.synth import composition, config, generate

    cfg = config.twin_config()
    patients, _ = composition.compose(cfg)
    found = _exam_the_detector_finds()
    unilateral = str(patients.loc[patients["sides"].str.len() == 1, "patient_id"].iloc[0])
    other = str(patients.loc[(patients["sides"].str.len() == 2) & (patients["patient_id"] != found),
                             "patient_id"].iloc[0])
    root = tmp_path_factory.mktemp("batched")
    manifest, _, _ = generate.generate(cfg, root, only={found, unilateral, other})
    return {"root": root, "manifest": manifest, "patients": [found, unilateral, other]}


def _specs(exams: dict) -> list:
    """The three exams, and the first again without its RMLO view (a missing view in the same batch)."""
    from mammo_lib.system.exam import ExamSpec, ViewSpec

    m = exams["manifest"]
    specs = []
    for patient in exams["patients"]:
        rows = m[m["patient_id"] == patient]
        specs.append(ExamSpec(patient, tuple(ViewSpec(str(exams["root"] / r.image_path), r.laterality, r.view,
                                                      r.image_id) for r in rows.itertuples(index=False))))
    first = specs[0]
    specs.append(type(first)(f"{first.exam_id}-no-RMLO", tuple(v for v in first.views
                                                                if (v.laterality, v.view) != ("R", "MLO"))))
    return specs


def _same(batched: object, alone: object, where: str = "result") -> None:
    """Equal findings (every key, string, integer, flag and box) and scores within :data:`SCORE_TOLERANCE`."""
    if isinstance(alone, dict):
        assert isinstance(batched, dict) and batched.keys() == alone.keys(), where
        for key in alone:
            _same(batched[key], alone[key], f"{where}.{key}")
    elif isinstance(alone, list):
        assert isinstance(batched, list) and len(batched) == len(alone), where
        for i, (b, a) in enumerate(zip(batched, alone)):
            _same(b, a, f"{where}[{i}]")
    elif isinstance(alone, float) and not isinstance(batched, bool):
        assert isinstance(batched, float) and math.isclose(batched, alone, rel_tol=0, abs_tol=SCORE_TOLERANCE), \
            f"{where}: {batched} vs {alone}"
    else:
        assert batched == alone, f"{where}: {batched!r} vs {alone!r}"


def test_a_batch_of_exams_gives_each_the_result_it_gets_alone(exams: dict) -> None:
    """The detector on four exams at once and the classifier on all their mass views at once, on CPU: every
    candidate, mass, box, descriptor and BI-RADS the same, scores within 1e-5, and the same overlay pixels."""
    import numpy as np

    from mammo_lib.system.exam import analyze_exam, analyze_exams, load_models, overlay_image

    models = load_models()
    specs = _specs(exams)
    batched = analyze_exams(models, specs)
    assert len(batched) == len(specs) and not any(isinstance(b, Exception) for b in batched)
    assert sum(len(result["masses"]) for result, _ in batched) >= 2  # something was classified in the batch
    for spec, (result, pixels) in zip(specs, batched):
        alone, alone_pixels = analyze_exam(models, spec)
        _same(result, alone, spec.exam_id)
        assert np.array_equal(np.asarray(overlay_image(result, pixels)), np.asarray(overlay_image(alone, alone_pixels)))


def test_a_bad_exam_in_a_batch_fails_alone_naming_its_file(exams: dict, tmp_path: Path) -> None:
    from mammo_lib.system.exam import ExamSpec, analyze_exams, load_models

    specs = _specs(exams)[:2]
    broken = tmp_path / "broken.dcm"
    shutil.copy(specs[1].views[0].path, broken)
    broken.write_bytes(broken.read_bytes()[:2000])
    bad = ExamSpec("bad", (type(specs[1].views[0])(str(broken), "L", "CC"),))
    out = analyze_exams(load_models(), [specs[0], bad, specs[1]])
    assert isinstance(out[1], analyze.MammoError) and str(out[1]).startswith("broken.dcm: truncated file")
    assert [isinstance(o, tuple) for o in (out[0], out[2])] == [True, True]


def test_cli_batches_in_workers_write_what_unbatched_runs_write(exams: dict, tmp_path: Path) -> None:
    """`--batch-size 2 --workers 2` (two batches, one per worker) and `--batch-size 1`: the same result.json files."""
    manifest = exams["manifest"]
    csv = exams["root"] / "batch.csv"  # image paths relative to the manifest's folder
    manifest.to_csv(csv, index=False)
    runs = {}
    for size, workers in ((1, 1), (2, 2)):
        out = tmp_path / f"out{size}"
        assert main(["analyze", str(csv), "--out", str(out), "--quiet", "--workers", str(workers),
                     "--batch-size", str(size)]) == 0
        runs[size] = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/result.json")}
    assert sorted(runs[1]) == sorted(manifest["study_id"].unique())
    for study, alone in runs[1].items():
        _same(runs[2][study], alone, study)


@pytest.mark.parametrize(("argv", "message"), [
    (["--device", "mps"], "--device 'mps': mammo analyze runs on cpu or cuda"),
    (["--device", "nonsense:x"], "--device 'nonsense:x' is not a torch device"),
    (["--batch-size", "0"], "--batch-size 0: give at least 1 exam per batch"),
])
def test_an_unusable_device_or_batch_size_is_refused_in_one_line(argv: list, message: str, tmp_path: Path,
                                                                  capsys) -> None:
    image = tmp_path / "LCC.png"
    image.write_bytes(b"")
    assert main(["analyze", str(image), "--out", str(tmp_path / "out"), "--quiet", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_cuda_without_a_gpu_is_refused_in_one_line(tmp_path: Path, capsys) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present here")
    assert main(["analyze", str(tmp_path), "--device", "cuda", "--quiet"]) == 2
    assert "--device cuda: no CUDA device is available here" in capsys.readouterr().err


def test_default_batch_size_is_one_on_cpu_and_more_on_a_gpu() -> None:
    assert analyze.batch_size(None, "cpu") == 1 and analyze.batch_size(None, "cuda:0") == analyze.DEFAULT_BATCH["cuda"]
    assert analyze.batch_size(3, "cpu") == 3 and analyze.DEFAULT_BATCH["cuda"] > 1


def test_a_cpu_device_by_any_name_is_the_cpu() -> None:
    assert analyze.check_device("cpu") == "cpu" and analyze.check_device("cpu:0") == "cpu"
