"""The `.pth` reader refuses crafted archives with one ValueError before viewing any tensor data.

The archives are written here by hand (zip + pickle; torch is not needed): a stand-in `torch`
module in `sys.modules` lets `pickle` name `torch._utils._rebuild_tensor_v2` and
`torch.FloatStorage` exactly as `torch.save` does.
"""

from __future__ import annotations

import collections
import pickle
import sys
import tracemalloc
import types
import zipfile

import numpy as np
import pytest

from neurosim.rnn import model as M
from neurosim.rnn.model import CheckpointError, load_torch_checkpoint, read_torch_state_dict


@pytest.fixture
def torch_names(monkeypatch):
    """Stand-ins for the two torch globals a state dict names, registered so pickle can name them."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # never called here: only its name is pickled
        raise AssertionError

    class FloatStorage:
        pass

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    utils._rebuild_tensor_v2, torch.FloatStorage, torch._utils = _rebuild_tensor_v2, FloatStorage, utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return types.SimpleNamespace(rebuild=_rebuild_tensor_v2, FloatStorage=FloatStorage)


class _Storage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class _Tensor:
    def __init__(self, names, storage, offset, size, stride):
        self.names, self.args = names, (storage, offset, size, stride)

    def __reduce__(self):
        return (self.names.rebuild, (*self.args, False, collections.OrderedDict()))


class _Pickler(pickle.Pickler):
    def __init__(self, fh, names):
        super().__init__(fh, protocol=2)
        self.names = names

    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", self.names.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def _pth(path, names, state, storages: dict, *, extra_members=()) -> str:
    """Write a torch.save-like archive: ``state`` pickled as ``model_state_dict``, raw float32 storages."""
    import io

    buf = io.BytesIO()
    _Pickler(buf, names).dump({"model_state_dict": state, "regularization_activityL2": 0.0})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ckpt/data.pkl", buf.getvalue())
        for key, data in storages.items():
            zf.writestr(f"ckpt/data/{key}", data if isinstance(data, bytes) else np.asarray(data, "<f4").tobytes())
        for name, data in extra_members:
            zf.writestr(name, data)
    return str(path)


def _state(names, w_rec=None, *, n=4, key="3", storages=None):
    """A CTRNN state dict (3 inputs, n units, 2 outputs); ``w_rec`` replaces W_rec's tensor."""
    shapes = {"ah0": (n,), "fc_x2ah.weight": (n, 3), "fc_x2ah.bias": (n,), "fc_h2ah.weight": (n, n),
              "fc_h2y.weight": (2, n), "fc_h2y.bias": (2,)}
    state, data = collections.OrderedDict(), {}
    for i, (name, shape) in enumerate(shapes.items()):
        k = str(i)
        values = np.arange(int(np.prod(shape)), dtype="<f4") / 10
        data[k] = values
        stride = (shape[1], 1) if len(shape) == 2 else (1,)
        state[name] = _Tensor(names, _Storage(k, values.size), 0, shape, stride)
    if w_rec is not None:
        state["fc_h2ah.weight"] = w_rec
    data.update(storages or {})
    return state, data


def test_a_well_formed_handmade_checkpoint_loads(torch_names, tmp_path):
    """The positive control: the same writer with honest geometry (also a transposed view) loads."""
    state, data = _state(torch_names)
    m = load_torch_checkpoint(_pth(tmp_path / "ok.pth", torch_names, state, data))
    np.testing.assert_array_equal(m.params["W_rec"], (np.arange(16) / np.float32(10)).astype("<f4")
                                  .astype(np.float64).reshape(4, 4))
    state["fc_h2ah.weight"] = _Tensor(torch_names, _Storage("3", 16), 0, (4, 4), (1, 4))  # W_rec.T
    m = load_torch_checkpoint(_pth(tmp_path / "t.pth", torch_names, state, data))
    np.testing.assert_array_equal(m.params["W_rec"], np.asarray(data["3"], np.float64).reshape(4, 4).T)


@pytest.mark.parametrize("case, tensor, message", [
    ("negative stride", dict(offset=15, size=(4, 4), stride=(-4, 1)), "negative stride"),
    ("offset -1", dict(offset=-1, size=(4, 4), stride=(4, 1)), "offset -1 lies outside"),
    ("stride -2**40", dict(offset=0, size=(4, 4), stride=(-2**40, 1)), "negative stride"),
    ("stride 2**40", dict(offset=0, size=(4, 4), stride=(2**40, 1)), "reads float"),
    ("offset past the end", dict(offset=1, size=(4, 4), stride=(4, 1)), "reads float 16 of a storage of 16"),
    ("zero strides, huge shape", dict(offset=0, size=(100_000, 100_000), stride=(0, 0)), "larger than its storage"),
    ("negative dimension", dict(offset=0, size=(-4, 4), stride=(4, 1)), "negative dimension"),
    ("float offset", dict(offset=0.5, size=(4, 4), stride=(4, 1)), "offset must be an int"),
    ("bool stride", dict(offset=0, size=(4, 4), stride=(True, 1)), "stride must be an int"),
    ("shape/stride lengths", dict(offset=0, size=(4, 4), stride=(4,)), "must be tuples of one length"),
])
def test_tensor_geometry_outside_its_storage_is_refused(torch_names, tmp_path, case, tensor, message):
    storage = _Storage("3", 16)
    if case == "zero strides, huge shape":
        storage = _Storage("3", 1)  # 4 bytes
    w = _Tensor(torch_names, storage, tensor["offset"], tensor["size"], tensor["stride"])
    state, data = _state(torch_names, w, storages={"3": np.zeros(storage.numel, "<f4")})
    path = _pth(tmp_path / "bad.pth", torch_names, state, data)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=message):
            load_torch_checkpoint(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20, f"{case}: {peak / 2**20:.0f} MB allocated before refusing"


def test_storage_size_must_match_its_bytes(torch_names, tmp_path):
    w = _Tensor(torch_names, _Storage("3", 16), 0, (4, 4), (4, 1))
    state, data = _state(torch_names, w, storages={"3": np.zeros(15, "<f4")})  # one float short
    with pytest.raises(ValueError, match="storage 3 holds 60 bytes; the pickle says 16 float32 values"):
        load_torch_checkpoint(_pth(tmp_path / "short.pth", torch_names, state, data))


def test_a_zip_bomb_is_refused_before_it_inflates(torch_names, tmp_path):
    """A 3.5 MB member that inflates to 768 MiB (deflated zeros; 780 kB at compresslevel 9, slower to
    write) as W_rec's storage: refused from the size in the zip directory, with a few MB allocated
    at most."""
    w = _Tensor(torch_names, _Storage("7", 16), 0, (4, 4), (4, 1))
    state, data = _state(torch_names, w)
    path = tmp_path / "bomb.pth"
    _pth(path, torch_names, state, data)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("ckpt/data/7", "w", force_zip64=True) as fh:
            chunk = bytes(2**24)
            for _ in range(48):  # 48 x 16 MiB
                fh.write(chunk)
    assert path.stat().st_size < 4_000_000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="member 'ckpt/data/7' inflates to 805,306,368 bytes"):
            load_torch_checkpoint(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20


def test_path_like_storage_keys_are_refused(torch_names, tmp_path):
    w = _Tensor(torch_names, _Storage("../../etc/passwd", 16), 0, (4, 4), (4, 1))
    state, data = _state(torch_names, w)
    with pytest.raises(ValueError, match="storage key '../../etc/passwd' is not a plain name"):
        load_torch_checkpoint(_pth(tmp_path / "key.pth", torch_names, state, data))


def test_a_missing_storage_member_is_a_value_error(torch_names, tmp_path):
    w = _Tensor(torch_names, _Storage("9", 16), 0, (4, 4), (4, 1))
    state, data = _state(torch_names, w)
    with pytest.raises(ValueError, match="no member 'ckpt/data/9'"):
        load_torch_checkpoint(_pth(tmp_path / "gone.pth", torch_names, state, data))


class _DictSettingClass:
    """Pickles as an OrderedDict whose BUILD state sets ``__class__`` (as attribute or slot state)."""

    def __init__(self, state):
        self.state = state

    def __reduce__(self):
        return (collections.OrderedDict, (), self.state)


@pytest.mark.parametrize("state", ["slots", "dict"])
def test_setting_class_on_the_dict_stand_in_is_refused(torch_names, tmp_path, state):
    sneaky = {"__class__": torch_names.FloatStorage}
    st, data = _state(torch_names)
    st = dict(st)
    st["_metadata"] = _DictSettingClass((None, sneaky) if state == "slots" else sneaky)
    with pytest.raises(ValueError, match="sets attributes other than _metadata"):
        load_torch_checkpoint(_pth(tmp_path / "cls.pth", torch_names, st, data))


def test_every_other_malformation_is_one_value_error(torch_names, tmp_path):
    state, data = _state(torch_names)
    good = _pth(tmp_path / "good.pth", torch_names, state, data)
    with zipfile.ZipFile(good) as zf:
        pkl = zf.read("ckpt/data.pkl")
    for i, cut in enumerate((1, len(pkl) // 2, len(pkl) - 1)):  # truncated pickles
        with zipfile.ZipFile(tmp_path / f"cut{i}.pth", "w") as zf:
            zf.writestr("ckpt/data.pkl", pkl[:cut])
        with pytest.raises(ValueError, match="not a readable PyTorch state dict|refused"):
            read_torch_state_dict(tmp_path / f"cut{i}.pth")
    with zipfile.ZipFile(tmp_path / "two.pth", "w") as zf:
        zf.writestr("a/data.pkl", pkl)
        zf.writestr("b/data.pkl", pkl)
    with pytest.raises(ValueError, match="holds 2 data.pkl files"):
        read_torch_state_dict(tmp_path / "two.pth")
    # a refused global is both a ValueError and a pickle.UnpicklingError
    assert issubclass(CheckpointError, ValueError) and issubclass(CheckpointError, pickle.UnpicklingError)


def test_member_cap_applies_to_the_pickle_too(torch_names, tmp_path, monkeypatch):
    state, data = _state(torch_names)
    path = _pth(tmp_path / "ok.pth", torch_names, state, data)
    monkeypatch.setattr(M, "TORCH_MAX_PICKLE_BYTES", 100)
    with pytest.raises(ValueError, match="data.pkl' inflates to"):
        read_torch_state_dict(path)
