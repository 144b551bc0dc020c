"""Config: the prover fleet keys (`prover.fleet`, `prover.ray_*`) and their checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bitcoinzk.node.config import Config

ROOT = Path(__file__).resolve().parents[2]


def test_fleet_defaults_to_local_and_devnet_toml_lists_the_keys() -> None:
    prover = Config.from_dict({}).prover
    assert (prover.fleet, prover.ray_address, prover.ray_workers) == ("local", "", 0)
    assert prover.ray_max_restarts == -1  # Ray restarts a crashed actor every time
    assert Config.load(ROOT / "devnet.toml").prover == prover


def test_ray_fleet_settings() -> None:
    raw = {"prover": {"fleet": "ray", "ray_address": "ray://head:10001", "ray_workers": 3}}
    prover = Config.from_dict(raw).prover
    assert (prover.fleet, prover.ray_address, prover.ray_workers) == ("ray", "ray://head:10001", 3)


@pytest.mark.parametrize(
    ("prover", "message"),
    [
        ({"fleet": "k8s"}, "prover.fleet must be one of"),
        ({"ray_workers": -1}, "prover.ray_workers must be >= 0"),
        ({"ray_max_restarts": -2}, "ray_max_restarts >= -1"),
        ({"ray_workers": "2"}, "prover.ray_workers must be int"),
    ],
)
def test_bad_fleet_settings_are_refused(prover: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Config.from_dict({"prover": prover})
