"""The shared test helpers do what the tests rely on."""
import akida_nb as ak

from conftest import registry_guard


def test_restore_targets_undoes_a_registration(tmp_path):
    path = tmp_path / "scratch_target.yaml"
    path.write_text("name: scratch_target\ntitle: Scratch\nlayer_types: [FullyConnected]\nrules: []\n")
    with registry_guard():
        ak.register_target(path)
        assert "scratch_target" in set(ak.targets()["name"])
    assert "scratch_target" not in set(ak.targets()["name"])


def test_no_target_registered_by_an_earlier_test_is_left_behind():
    names = set(ak.targets()["name"])
    assert {"nsoc_v1", "nsoc_v2", "akd1000"} <= names and "scratch_target" not in names
