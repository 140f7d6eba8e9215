"""Generating a cohort's images and tables: patients -> breasts -> views -> DICOM, masks and ground truth.

Layout of a cohort root (``data/twin`` or ``data/train``)::

    images/<patient>/<image_id>.dcm             DICOM MG For Presentation (image_id = <patient>_<L|R>_<CC|MLO>)
    truth/<patient>/<image_id>_breast.png       breast mask (8-bit, 255 = breast)
    truth/<patient>/<image_id>_<mass_id>.png    one mask per mass per view (its outline, spicules excluded)
    truth_views.csv                             per view: nipple x,y; pectoral line ends (MLO); mask path; ...
    data_manifest.csv, data_findings.csv        the cohort's tables (the twin's are committed at the repo root)

Pixel coordinates are those of the written image (x = column, y = row, pixel centres at integers);
boxes are x0, y0 inclusive and x1, y1 exclusive. Every patient has its own random stream, so one patient
can be regenerated alone and comes out byte-identical.

Byte-identical across machines: numpy picks its vectorised exp/sin/cos/arctan2 kernels at run time by CPU,
and its AVX-512 kernels round differently in the last bit from its AVX2 ones, which flips a few pixels after
quantisation. The committed twin checksums are those of the x86-64 AVX2 level (X86_V3), so on a CPU with
AVX-512 the patients are rendered in worker processes started with ``NPY_DISABLE_CPU_FEATURES`` naming the
AVX-512 targets (see :func:`numpy_dispatch_above_avx2`).
"""
from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from mammo_lib import vocab
from mammo_lib.checksums import sha256_file
from mammo_lib.errors import MammoError
from mammo_lib.synth import acquisition, anatomy, dosimetry, masses, phantom_v1
from mammo_lib.synth.composition import compose
from mammo_lib.synth.config import SMALL_FIELD_MM, VENDOR_BY_NAME, SynthConfig, view_pitch_mm

T = TypeVar("T")

#: Columns of truth_views.csv (documented in the module docstring and :class:`ViewTruth`).
TRUTH_COLUMNS = ("image_id", "rows", "cols", "pixel_spacing_mm", "nipple_x", "nipple_y", "pectoral_x0",
                 "pectoral_y0", "pectoral_x1", "pectoral_y1", "breast_mask_path", "dense_area_fraction", "beta")


@dataclass(frozen=True)
class PatientResult:
    """Rows produced by rendering one patient."""

    manifest: list[dict]
    findings: list[dict]
    truth: list[dict]


def _write_png(path: Path, mask: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((mask.astype(np.uint8) * 255)).save(path, format="PNG", optimize=False)


def _breast_shape(cfg: SynthConfig, rng: np.random.Generator) -> anatomy.BreastShape:
    depth = float(np.clip(rng.normal(*cfg.nipple_depth_mm), 0.45 * cfg.nipple_depth_mm[0], 1.8 * cfg.nipple_depth_mm[0]))
    thick = float(np.clip(rng.normal(*cfg.thickness_mm), 20.0, 80.0))
    return anatomy.BreastShape(
        nipple_depth_mm=depth, aspect=float(rng.uniform(*cfg.aspect_range)), p=float(rng.uniform(*cfg.outline_p)),
        q=float(rng.uniform(*cfg.outline_q)), mlo_depth_ratio=float(rng.uniform(*cfg.mlo_depth_ratio)),
        pectoral_top=float(rng.uniform(*cfg.pectoral_top)), pectoral_side=float(rng.uniform(*cfg.pectoral_side)),
        contour_phase=(float(rng.uniform()), float(rng.uniform()), float(rng.uniform(0.0, 1.5))),
        thickness_mm=thick)


def _jitter(shape: anatomy.BreastShape, rng: np.random.Generator, amount: float) -> anatomy.BreastShape:
    """The contralateral breast: the same shape within ``amount`` (left and right breasts are alike)."""
    def j(value: float, scale: float) -> float:
        return float(value * (1.0 + rng.uniform(-scale, scale)))

    return anatomy.BreastShape(j(shape.nipple_depth_mm, amount), j(shape.aspect, 0.75 * amount), shape.p, shape.q,
                               shape.mlo_depth_ratio, j(shape.pectoral_top, 1.25 * amount),
                               j(shape.pectoral_side, 1.25 * amount),
                               tuple(float(x + rng.uniform(-0.05, 0.05)) for x in shape.contour_phase),
                               j(shape.thickness_mm, 0.75 * amount))


def canvas_size(shape: anatomy.BreastShape, spacing: float, large_mm: tuple[float, float]) -> tuple[int, int]:
    """Rows/cols of the detector field used: the small 18 x 24 cm field when the breast fits in it, else
    ``large_mm`` (the vendor's field). Public: the teaching demo (:mod:`mammo_lib.paper.teaching`) lays out its
    breast as the twin does."""
    needs = (2.2 * shape.aspect * shape.nipple_depth_mm, 1.25 * shape.nipple_depth_mm * 1.1 + 10.0)
    field = SMALL_FIELD_MM if needs[0] <= SMALL_FIELD_MM[0] and needs[1] <= SMALL_FIELD_MM[1] else large_mm
    return int(round(field[0] / spacing)), int(round(field[1] / spacing))


def place_mass(geoms: dict[str, anatomy.ViewGeometry], size_mm: float,
               taken: list[dict[str, tuple[float, float, float]]], rng: np.random.Generator) -> tuple[float, float, float]:
    """Draw a breast position (r, psi, alpha) whose projections lie inside the breast in every view, away from
    the masses already ``taken`` (appended to); a MammoError when none fits in 3000 draws. Public: the teaching
    demo places its mass as the twin does."""
    for attempt in range(3000):
        allow_overlap = attempt >= 1500
        r = rng.uniform(0.15, 0.95) * geoms["CC"].depth_px * geoms["CC"].spacing_mm
        psi, alpha = rng.uniform(0.0, 1.3), rng.uniform(0.0, 2 * math.pi)
        ok = True
        spots = {}
        for view, g in geoms.items():
            x, y = anatomy.project_point(g, r, psi, alpha)
            rad = 0.5 * size_mm / g.spacing_mm
            if not anatomy.inside_margin(g, x, y, rad + 2.0 / g.spacing_mm):
                ok = False
                break
            if not allow_overlap and any(math.hypot(x - t[view][0], y - t[view][1]) < 0.9 * (rad + t[view][2])
                                         for t in taken):
                ok = False
                break
            spots[view] = (x, y, rad)
        if ok:
            taken.append(spots)
            return r, psi, alpha
    raise _NoRoom(f"could not place a {size_mm} mm mass inside the breast in both views")


class _NoRoom(MammoError):
    """A mass does not fit in the breast drawn for its patient (render_patient then draws a larger breast)."""


#: Attempts of :func:`render_patient` at a breast large enough for the patient's masses; each redraws the
#: breast from its own stream with the nipple depth grown by this fraction per attempt.
ROOM_ATTEMPTS = 8
ROOM_GROWTH = 0.15


def render_patient(cfg: SynthConfig, index: int, patient: dict, patient_masses: list[dict], root: Path) -> PatientResult:
    """Render and write all views of one patient; returns its manifest, findings and truth rows.

    A large mass can fail to fit in the breast drawn for its patient (e.g. a 50 mm mass in a small breast;
    it happens in the larger training cohorts, never in the twin). The patient is then redrawn from another
    random stream with a deeper breast, up to ``ROOM_ATTEMPTS`` times, keeping the mass as composed: large
    masses end up in large breasts. A patient that succeeds at the first attempt is unchanged by this rule.
    """
    for attempt in range(ROOM_ATTEMPTS):
        try:
            return _render_patient_once(cfg, index, patient, patient_masses, root, attempt)
        except _NoRoom as exc:
            last = exc
    raise MammoError(f"{patient['patient_id']}: {last} after {ROOM_ATTEMPTS} breasts of growing size")


def _render_patient_once(cfg: SynthConfig, index: int, patient: dict, patient_masses: list[dict], root: Path,
                         attempt: int) -> PatientResult:
    rng = np.random.default_rng([cfg.seed, 1, index] if attempt == 0 else [cfg.seed, 1, index, attempt])
    profile = VENDOR_BY_NAME[patient["vendor"]]
    sp = view_pitch_mm(cfg, profile.name)
    v2 = cfg.phantom == "v2"
    if v2:  # the DICOM header carries the pitch actually rendered
        profile = replace(profile, pixel_spacing_mm=sp)
    base = _breast_shape(cfg, rng)
    if attempt:
        base = replace(base, nipple_depth_mm=base.nipple_depth_mm * (1.0 + ROOM_GROWTH * attempt))
    rows, cols = canvas_size(base, sp, profile.field_mm)
    beta = float(rng.uniform(*cfg.beta_range))
    pid = patient["patient_id"]
    manifest, findings, truth = [], [], []
    dense_targets = breast_dense_targets(cfg, index, patient["breast_density"]) if v2 else {}
    for side_index, side in enumerate(("R", "L")):
        if side not in patient["sides"]:
            continue
        shape = base if side_index == 0 else _jitter(base, rng, cfg.contralateral_jitter)
        geoms = {v: anatomy.view_geometry(shape, v, rows, cols, sp) for v in vocab.VIEW}
        taken: list[dict] = []
        placed: dict[str, list[phantom_v1.PlacedMass]] = {v: [] for v in vocab.VIEW}
        side_masses = [m for m in patient_masses if m["laterality"] == side]
        for m in side_masses:
            mshape = masses.draw_mass_shape(m["size_mm"], m["morphology"], m["margin"], rng)
            r, psi, alpha = place_mass(geoms, m["size_mm"], taken, rng)
            obscure = float(rng.uniform(0, 2 * math.pi))
            for v, g in geoms.items():
                x, y = anatomy.project_point(g, r, psi, alpha)
                placed[v].append(phantom_v1.PlacedMass(m["mass_id"], mshape, m["mass_density"], x, y, obscure))
        for view_index, view in enumerate(vocab.VIEW):
            view_rng = np.random.default_rng([cfg.seed, 2, index, side_index, view_index])
            exposure = None
            if v2:
                out, exposure = render_v2_exposed(cfg, geoms[view], profile.name, patient["breast_density"],
                                                  shape.thickness_mm, placed[view], dense_targets[side], view_rng)
            else:
                out = phantom_v1.render_view(cfg, geoms[view], patient["breast_density"],
                                         beta + float(view_rng.uniform(-0.05, 0.05)), shape.thickness_mm,
                                         placed[view], view_rng)
            image_id = f"{pid}_{side}_{view}"
            flip = side == "R"  # right breasts are stored mirrored: nipple pointing left
            fx = (lambda x: cols - 1 - x) if flip else (lambda x: x)  # noqa: E731
            mirror = (lambda a: a[:, ::-1]) if flip else (lambda a: a)  # noqa: E731
            enc = acquisition.encode(mirror(out.presentation), mirror(out.breast), profile, full_range=v2)
            rel = f"images/{pid}/{image_id}.dcm"
            tags = acquisition.ImageTags(pid, int(patient["age"]), patient["study_id"], patient["study_date"], side,
                                         view, image_id, cfg.seed, 1 + 2 * side_index + view_index)
            acquisition.write_mg(root / rel, enc, profile, tags, conformant=v2, exposure=exposure)
            breast_rel = f"truth/{pid}/{image_id}_breast.png"
            _write_png(root / breast_rel, mirror(out.breast))
            manifest.append({"image_id": image_id, "patient_id": pid, "study_id": patient["study_id"],
                             "age": int(patient["age"]), "breast_density": patient["breast_density"],
                             "laterality": side, "view": view, "image_path": rel, "vendor": profile.name,
                             "sha256": sha256_file(root / rel), "split": patient["split"]})
            pect = out.pectoral
            truth.append({"image_id": image_id, "rows": rows, "cols": cols, "pixel_spacing_mm": sp,
                          "nipple_x": round(fx(out.nipple[0]), 2), "nipple_y": round(out.nipple[1], 2),
                          "pectoral_x0": round(fx(pect[0]), 2) if pect else None,
                          "pectoral_y0": round(pect[1], 2) if pect else None,
                          "pectoral_x1": round(fx(pect[2]), 2) if pect else None,
                          "pectoral_y1": round(pect[3], 2) if pect else None,
                          "breast_mask_path": breast_rel,
                          "dense_area_fraction": round(float(out.dense[out.breast].mean()), 4),
                          "beta": None if v2 else round(beta, 4)})
            for m in side_masses:
                mask = mirror(out.mass_masks[m["mass_id"]])
                ys, xs = np.nonzero(mask)
                if len(xs) == 0:
                    raise MammoError(f"{m['mass_id']} fell outside the breast in {image_id}")
                mask_rel = f"truth/{pid}/{image_id}_{m['mass_id']}.png"
                _write_png(root / mask_rel, mask)
                row = {"mass_id": m["mass_id"], "image_id": image_id, "x0": int(xs.min()), "y0": int(ys.min()),
                       "x1": int(xs.max()) + 1, "y1": int(ys.max()) + 1, "mask_path": mask_rel}
                row.update({k: m[k] for k in vocab.FINDINGS_COLUMNS if k not in row})
                findings.append(row)
    (root / "truth" / pid).mkdir(parents=True, exist_ok=True)
    pd.DataFrame(truth, columns=list(TRUTH_COLUMNS)).to_csv(root / "truth" / pid / "truth_views.csv", index=False)
    return PatientResult(manifest, findings, truth)


def breast_dense_targets(cfg: SynthConfig, index: int, density: str) -> dict[str, float]:
    """The percent dense area (fraction) each breast of patient ``index`` is rendered to (phantom v2).

    The right breast's is drawn from the published distribution of its density on its own stream
    ``[seed, 3, index, 0]``. With ``cfg.contralateral_dense_sd`` set (the twin) the left breast's is the right
    one's plus a normal difference of that SD (stream ``[seed, 3, index, 1]``), clipped to 0.01-0.95: breast
    density is a property of the woman, and her two sides agree closely. With it ``None`` (the training
    cohorts of the shipped weights) the left breast draws its own target from the same distribution on that
    stream, so the two sides of one woman can differ by 0.2 or more.
    """
    from mammo_lib.synth import phantom_v2

    right = phantom_v2.draw_target_dense(density, np.random.default_rng([cfg.seed, 3, index, 0]))
    left_rng = np.random.default_rng([cfg.seed, 3, index, 1])
    if cfg.contralateral_dense_sd is None:
        return {"R": right, "L": phantom_v2.draw_target_dense(density, left_rng)}
    left = right + float(left_rng.normal(0.0, cfg.contralateral_dense_sd))
    return {"R": right, "L": float(np.clip(left, 0.01, 0.95))}


def render_v2(cfg: SynthConfig, geom: anatomy.ViewGeometry, vendor: str, density: str, drawn_thickness_mm: float,
              placed: list[phantom_v1.PlacedMass], target_dense: float,
              view_rng: np.random.Generator) -> phantom_v1.RenderedView:
    """One view of phantom v2 (the twin's views, and notebook 11's density demonstration) at the percent dense
    area ``target_dense`` (fraction; both views of a breast share it, :func:`breast_dense_targets`)."""
    return render_v2_exposed(cfg, geom, vendor, density, drawn_thickness_mm, placed, target_dense, view_rng)[0]


def render_v2_exposed(cfg: SynthConfig, geom: anatomy.ViewGeometry, vendor: str, density: str,
                      drawn_thickness_mm: float, placed: list[phantom_v1.PlacedMass], target_dense: float,
                      view_rng: np.random.Generator) -> tuple[phantom_v1.RenderedView, dosimetry.Exposure]:
    """:func:`render_v2` plus the view's exposure and dose (:func:`mammo_lib.synth.dosimetry.view_exposure` of its
    compressed thickness and the phantom's glandular volume fraction); draws nothing more from the stream."""
    from mammo_lib.synth import phantom_v2, phantom_v2_xray

    thickness = phantom_v2.view_thickness(density, drawn_thickness_mm)
    out, proj = phantom_v2_xray.render_view(geom, vendor, density, thickness,
                                            placed, target_dense, view_rng, mass_mu_ratio=cfg.mass_mu_ratio,
                                            mass_depth_ratio=cfg.mass_depth_ratio,
                                            pectoral_fraction=cfg.pectoral_fraction, periphery_mm=cfg.periphery_mm)
    return out, dosimetry.view_exposure(vendor, thickness, proj.glandular_volume_fraction)


def _render_one(job: tuple[SynthConfig, int, dict, list[dict], str]) -> PatientResult:
    cfg, index, patient, pm, root = job
    return render_patient(cfg, index, patient, pm, Path(root))


def numpy_dispatch_above_avx2() -> list[str]:
    """numpy's run-time SIMD targets above the AVX2 level (X86_V3) that are active in this process.

    Empty on a CPU without AVX-512, or where ``NPY_DISABLE_CPU_FEATURES`` already turned them off.
    """
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    return [t for t in __cpu_dispatch__ if (t == "X86_V4" or t.startswith("AVX512")) and __cpu_features__.get(t)]


@contextlib.contextmanager
def _numpy_features_off(targets: list[str]) -> Iterator[None]:
    """``NPY_DISABLE_CPU_FEATURES`` set to ``targets`` for the processes started inside (numpy reads it at import),
    restored afterwards; nothing when ``targets`` is empty."""
    if not targets:
        yield
        return
    previous = os.environ.get("NPY_DISABLE_CPU_FEATURES")
    os.environ["NPY_DISABLE_CPU_FEATURES"] = " ".join(targets)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("NPY_DISABLE_CPU_FEATURES", None)
        else:
            os.environ["NPY_DISABLE_CPU_FEATURES"] = previous


def _render_all(jobs: list[tuple], workers: int, progress: bool) -> list[PatientResult]:
    above = numpy_dispatch_above_avx2()
    if workers <= 1 and not above:
        return list(_progress(map(_render_one, jobs), len(jobs), progress))
    context = multiprocessing.get_context("spawn") if above else None  # spawned workers import numpy afresh
    with _numpy_features_off(above), ProcessPoolExecutor(max_workers=max(1, min(workers, len(jobs))),
                                                         mp_context=context) as pool:
        return list(_progress(pool.map(_render_one, jobs, chunksize=2), len(jobs), progress))


def at_avx2_level(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` computed by numpy's AVX2-level kernels on every CPU, as the twin is rendered: in this process
    where the CPU has nothing above that level, else in one spawned worker started with the AVX-512 targets off
    (``fn`` importable from its module, its arguments and result picklable). For renders outside :func:`generate`
    whose numbers are compared across machines (notebook 11's density-masking demonstration)."""
    above = numpy_dispatch_above_avx2()
    if not above:
        return fn(*args)
    with _numpy_features_off(above), ProcessPoolExecutor(max_workers=1,
                                                         mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def generate(cfg: SynthConfig, root: str | Path, workers: int = 1, only: set[str] | None = None,
             progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Render the cohort of ``cfg`` (or only the patients in ``only``) into ``root``; return its tables."""
    root = Path(root)
    patients, mass_table = compose(cfg)
    by_patient = {pid: g.to_dict("records") for pid, g in mass_table.groupby("patient_id", sort=False)}
    jobs = [(cfg, i, p, by_patient.get(p["patient_id"], []), str(root))
            for i, p in enumerate(patients.to_dict("records")) if only is None or p["patient_id"] in only]
    results = _render_all(jobs, workers, progress) if jobs else []
    manifest = pd.DataFrame([r for res in results for r in res.manifest], columns=list(vocab.MANIFEST_COLUMNS))
    findings = pd.DataFrame([r for res in results for r in res.findings], columns=list(vocab.FINDINGS_COLUMNS))
    truth = pd.DataFrame([r for res in results for r in res.truth], columns=list(TRUTH_COLUMNS))
    return manifest, findings, truth


#: file in a resumable render's folder naming the configuration it renders (see :func:`render_resumable`)
STAMP_FILE = "cohort.json"


def write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` (CSV) through a temporary file of this process, then rename it into place: a
    reader in another process sees the old table or the new one, never a partial one."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)


def render_resumable(cfg: SynthConfig, out: str | Path, *, workers: int = 1, resume: bool = False,
                     chunk: int = 0, limit: int | None = None, progress: bool = False) -> pd.DataFrame:
    """Render the cohort of ``cfg`` into the new folder ``out`` in chunks of patients, writing its tables
    (``data_manifest.csv``, ``data_findings.csv``, ``truth_views.csv``) after every chunk; return the manifest.

    The tables only ever list finished patients, so an interrupted render leaves a consistent, usable partial
    cohort; ``resume=True`` continues it (the folder's ``cohort.json`` must name the same configuration, and
    the patients already listed are kept, not re-rendered). Each patient's pixels depend on the configuration
    and the patient alone, so a resumed cohort is identical to one rendered in one go. Without ``resume`` the
    folder must be new or empty (runs never overwrite earlier results). ``chunk`` patients per step (default
    ``max(16, 8 x workers)``). ``limit`` renders only the cohort's first ``limit`` patients (in its own order:
    a prefix, so a larger limit with ``resume`` continues it and the prefix is the same cohort's).
    """
    import json
    from dataclasses import asdict

    out = Path(out)
    wanted = json.dumps({k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
                        sort_keys=True, default=str)
    stamp = out / STAMP_FILE
    files = {"manifest": out / "data_manifest.csv", "findings": out / "data_findings.csv",
             "truth": out / "truth_views.csv"}
    done = [pd.DataFrame(columns=list(vocab.MANIFEST_COLUMNS)), pd.DataFrame(columns=list(vocab.FINDINGS_COLUMNS)),
            pd.DataFrame(columns=list(TRUTH_COLUMNS))]
    if out.exists() and any(out.iterdir()):
        if not resume:
            raise MammoError(f"--out {out}: folder exists and is not empty (runs never overwrite earlier results; "
                             f"--resume continues an interrupted render of the same cohort)")
        if not stamp.is_file() or stamp.read_text() != wanted:
            raise MammoError(f"--out {out}: {STAMP_FILE} is missing or names another configuration than this "
                             f"command's; --resume continues only the same cohort")
        if files["manifest"].is_file():
            done = [pd.read_csv(files[k], dtype={"sha256": str}) for k in ("manifest", "findings", "truth")]
    out.mkdir(parents=True, exist_ok=True)
    stamp.write_text(wanted)
    patients, _ = compose(cfg)
    if limit is not None:
        if limit < 1:
            raise MammoError(f"limit must be a positive number of patients, got {limit}")
        patients = patients.head(limit)
    finished = set(done[0]["patient_id"].astype(str))
    todo = [str(p) for p in patients["patient_id"] if str(p) not in finished]
    step = chunk or max(16, 8 * workers)
    bar = None
    if progress:
        from mammo_lib.progress import tqdm

        bar = tqdm(total=len(patients), initial=len(finished), unit="patient", desc="rendering")
    if not files["manifest"].is_file():  # the tables exist from the start (empty), so a partial cohort always has them
        for frame, key in zip(done, files):
            write_csv_atomic(frame, files[key])
    try:
        for i in range(0, len(todo), step):
            part = generate(cfg, out, workers=workers, only=set(todo[i:i + step]))
            done = [pd.concat([a, b], ignore_index=True) if len(a) else b for a, b in zip(done, part)]
            for frame, key in zip(done, files):
                write_csv_atomic(frame, files[key])
            if bar is not None:
                bar.update(part[0]["patient_id"].nunique())
    finally:
        if bar is not None:
            bar.close()
    return done[0]


def _progress(iterable, total: int, enabled: bool):
    if not enabled:
        return iterable
    from mammo_lib.progress import tqdm

    return tqdm(iterable, total=total, unit="patient", desc="rendering")
