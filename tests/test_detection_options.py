"""The detector's training options: network width and input reduction (rebuilt from the model card), and the
domain randomisation of training exams."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mammo_lib.errors import MammoError
from mammo_lib.models.augment import DomainRandomisation
from mammo_lib.models.detection import network as det
from mammo_lib.models.detection.inference import load_detector
from mammo_lib.models.detection.task import augmentation, network_config
from mammo_lib.models.weights import export_weights

CARD = {"data": "toy", "epochs": 1, "metrics": {"operating_threshold_1_fpi": 0.5}}


def test_network_config_scales_widths_and_round_trips_through_the_card(tmp_path: Path) -> None:
    config = network_config({"width": "2", "input_reduce": "unshuffle"})
    assert config.backbone.channels == (32, 64, 128, 256) and config.backbone.neck_channels == 64
    assert det.DetectionConfig.from_dict(config.to_dict()) == config
    torch.manual_seed(0)
    model = det.build_model(config).eval()
    assert model.backbone.trunk.conv1.in_channels == 4  # 2 x 2 blocks of the 448 grid as channels
    path = tmp_path / "detection.safetensors"
    export_weights(model, path, architecture=det.ARCHITECTURE, card={**CARD, "model_config": config.to_dict()})
    loaded, card = load_detector(str(path))
    assert loaded.config == config
    images = torch.rand(1, 4, 1, 448, 448)
    nipples, present = torch.full((1, 4, 2), 0.5), torch.ones(1, 4, dtype=torch.bool)
    with torch.no_grad():
        torch.testing.assert_close(model.half().float()(images, nipples, present)["ifn_heat"],
                                   loaded(images, nipples, present)["ifn_heat"])


def test_card_without_model_config_builds_the_default_network(tmp_path: Path) -> None:
    path = tmp_path / "detection.safetensors"
    export_weights(det.build_model(), path, architecture=det.ARCHITECTURE, card=CARD)
    loaded, _ = load_detector(str(path))
    assert loaded.config == det.DetectionConfig()


@pytest.mark.parametrize(("options", "message"), [
    ({"width": "wide"}, "option width must be a number"),
    ({"width": "9"}, r"option width must be in \[0.25, 4\]"),
    ({"input_reduce": "max"}, "option input_reduce must be 'avg' or 'unshuffle'"),
])
def test_bad_network_options_are_one_line_errors(options: dict, message: str) -> None:
    with pytest.raises(MammoError, match=message):
        network_config(options)


def test_augment_option() -> None:
    assert augmentation("basic") is None
    assert augmentation("0.5") == DomainRandomisation(strength=0.5)
    for bad in ("strong", "0", "3", "nan"):
        with pytest.raises(MammoError, match="option augment must be"):
            augmentation(bad)


def _exam(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 0.8, (4, 64, 64)).astype(np.float32)
    x[:, :, 40:] = 0.0  # background
    return x


def test_domain_randomisation_keeps_background_range_and_seed() -> None:
    x = _exam()
    aug = DomainRandomisation()
    a, b = aug.apply(x, np.random.default_rng(3)), aug.apply(x, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and (a[:, :, 40:] == 0).all()
    assert a[:, :, :40].min() > 0 and a.max() <= 1.0
    assert not np.allclose(a, x)
    np.testing.assert_array_equal(DomainRandomisation(strength=0).apply(x, np.random.default_rng(3)), x)


def test_domain_randomisation_draws_each_factor_over_its_range() -> None:
    """Over many exams the display gamma moves the median both ways and the noise roughens the image."""
    x = np.full((4, 64, 64), 0.5, np.float32)
    aug = DomainRandomisation(blur_p=0.0, grain_p=0.0, unsharp=(0.0, 0.0))
    medians, sds = [], []
    for seed in range(200):
        y = aug.apply(x, np.random.default_rng(seed))
        medians.append(float(np.median(y))), sds.append(float(y.std()))
    assert min(medians) < 0.4 < 0.6 < max(medians)
    assert max(sds) > 0.02 and min(sds) < 0.005
    with pytest.raises(MammoError, match=r"strength must be in \[0, 2\]"):
        DomainRandomisation(strength=5)
    with pytest.raises(MammoError, match=r"\[views, H, W\]"):
        aug.apply(x[0], np.random.default_rng(0))


def test_fine_tuning_takes_the_starting_weights_network_and_refuses_another_shape() -> None:
    from mammo_lib.models.detection.task import DetectionTask

    wide = network_config({"width": "1.5"})
    card = {**CARD, "model_config": wide.to_dict()}
    task = DetectionTask([], [])
    task.start_from(card, {})
    assert task.config == wide and task.build_model().backbone.config.channels == (24, 48, 96, 192)
    task = DetectionTask([], [])
    task.start_from(card, {"width": "1.5", "drop_view_p": "0.2"})  # asking for the same shape is fine
    assert task.config == wide
    with pytest.raises(MammoError, match=r"--option width=1 asks for another network than the --init weights'"):
        DetectionTask([], []).start_from(card, {"width": "1"})
    task = DetectionTask([], [], config=wide)
    task.start_from(None, {})  # weights without a card keep the options' network
    assert task.config == wide


def test_fine_tuning_turns_an_average_pooled_input_into_the_equivalent_space_to_depth_network(tmp_path: Path) -> None:
    """`--init W --option input_reduce=unshuffle` on weights of an average-pooled input: the network becomes the
    space-to-depth one and computes what the starting weights computed (function-preserving conversion); the
    width stays theirs and another width is still refused."""
    from mammo_lib.models.detection.task import DetectionTask
    from mammo_lib.models.weights import load_weights

    wide = network_config({"width": "1.5"})
    torch.manual_seed(3)
    source = det.build_model(wide).eval()
    for m in source.modules():  # non-trivial batch-norm statistics, so that the comparison means something
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1), m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "avg.safetensors"
    export_weights(source, path, architecture=det.ARCHITECTURE, card={**CARD, "model_config": wide.to_dict()})
    card = {**CARD, "model_config": wide.to_dict()}
    task = DetectionTask([], [])
    task.start_from(card, {"input_reduce": "unshuffle"})
    assert task.config.backbone.input_reduce == "unshuffle" and task.config.backbone.channels == wide.backbone.channels
    assert task.init_config == wide
    model = task.build_model().eval()
    assert model.backbone.trunk.conv1.in_channels == 4
    task.load_init(model, str(path))
    loaded = load_weights(det.build_model(wide).eval(), path, architecture=det.ARCHITECTURE)  # fp16, as exported
    x = torch.rand(2, 4, 1, 448, 448)
    nipples = torch.rand(2, 4, 2)
    present = torch.ones(2, 4, dtype=torch.bool)
    with torch.no_grad():
        a, b = loaded(x, nipples, present), model(x, nipples, present)
    for key in ("ifn_heat", "ifn_box", "single_heat"):
        torch.testing.assert_close(b[key], a[key], rtol=1e-4, atol=1e-4)
    assert task.card_extra(model)["init_conversion"].startswith("starting weights with an average-pooled input")
    with pytest.raises(MammoError, match=r"--option width=1, input_reduce=unshuffle asks for another network"):
        DetectionTask([], []).start_from(card, {"input_reduce": "unshuffle", "width": "1"})
    same = DetectionTask([], [])
    same.start_from(card, {"input_reduce": "avg"})  # asking for the weights' own input changes nothing
    assert same.config == wide and same.init_config is None
