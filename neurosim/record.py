"""Record the activity of any model as labelled trajectories ``(condition, time, unit)``.

A model is scored against recordings through its activity on a set of task conditions. Whatever
the model is written in, the activity is collected the same way: run the model on a batch of
inputs ``(batch, time, in)``, take its hidden activity ``(batch, time, units)``, and label each
batch row with its condition and each step with its time. :func:`record` does this for any
Python callable; :func:`record_torch` (a forward hook on a named layer of a
``torch.nn.Module``) and :func:`record_jax` (a JAX function) are thin adapters over it. torch
and jax are optional: they are imported only when their adapter is called.

Labels come either from a task — anything with a ``conditions()`` method returning a batch
with ``inputs``, ``conditions`` and ``time`` (every :mod:`neurosim.rnn.tasks` task) — or from
the ``conditions=`` and ``time=`` / ``dt=`` arguments. Several batch rows with the same label
are trials of one condition: they are averaged (or kept with ``keep_trials=True``).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurosim.trajectories import group_trials

__all__ = ["record", "record_torch", "record_jax"]


def _resolve_inputs(inputs: Any, conditions: Any, time: Any, dt: Any) -> tuple[np.ndarray, Any, np.ndarray, str, dict]:
    """(inputs array, labels, time, time units, provenance) from a task, a batch or an array."""
    attrs: dict[str, Any] = {}
    if callable(getattr(inputs, "conditions", None)) and not hasattr(inputs, "inputs"):
        attrs["task"] = str(getattr(inputs, "name", type(inputs).__name__))
        inputs = inputs.conditions()
    if hasattr(inputs, "inputs"):  # a batch: inputs plus its own labels and time
        if conditions is None:
            conditions = getattr(inputs, "conditions", None)
        if time is None and dt is None:
            time = getattr(inputs, "time", None)
        inputs = inputs.inputs
    x = np.asarray(inputs)
    if x.ndim != 3 or not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"inputs must be a numeric (batch, time, in) array, a batch or a task; got "
                         f"{'shape ' + str(x.shape) if x.ndim != 3 else 'dtype ' + str(x.dtype)}.")
    n_batch, n_time = x.shape[:2]
    if conditions is None:
        conditions = np.arange(n_batch)
    if time is not None and dt is not None:
        raise ValueError("give time= or dt=, not both.")
    if time is not None:
        t, units = np.asarray(time, dtype=np.float64), "ms"
        if t.shape != (n_time,):
            raise ValueError(f"time must hold {n_time} values (one per input step); got shape {t.shape}.")
    elif dt is not None:
        if isinstance(dt, (bool, np.bool_)) or not isinstance(dt, numbers.Real) or not float(dt) > 0:
            raise ValueError(f"dt must be a number of ms > 0; got {dt!r}.")
        t, units = np.arange(n_time) * float(dt), "ms"
    else:
        t, units = np.arange(n_time, dtype=np.float64), "steps"
    return x, conditions, t, units, attrs


def record(
    step_fn: Callable[[np.ndarray], Any],
    inputs: Any,
    *,
    conditions: Any = None,
    time: Sequence[float] | np.ndarray | None = None,
    dt: float | None = None,
    units: Sequence[Any] | None = None,
    keep_trials: bool = False,
    attrs: dict | None = None,
) -> xr.DataArray:
    """Activity of any model on a batch of inputs, as a labelled trajectory array.

    Parameters
    ----------
    step_fn : callable
        ``step_fn(x)`` with ``x`` the float64 inputs ``(batch, time, in)`` returns the model's
        activity ``(batch, time, units)`` (anything ``numpy.asarray`` accepts).
    inputs : array (batch, time, in), a batch, or a task
        A task (an object with ``conditions()``, e.g. a :mod:`neurosim.rnn.tasks` task) gives its
        evaluation batch; a batch (an object with ``inputs`` and optionally ``conditions`` and
        ``time``) gives its inputs and labels.
    conditions : sequence, pandas.Index / MultiIndex or DataFrame, optional
        The condition label of each batch row (default: the batch's or task's, else ``0..B-1``).
        Rows with equal labels are trials of one condition.
    time : sequence of float, optional
        Time of each step in ms (default: the batch's, else ``dt``).
    dt : float, optional
        Step length in ms: time ``0, dt, 2 dt, ...``. Without ``time`` or ``dt`` time is in
        steps (``time.attrs["units"] = "steps"``).
    units : sequence, optional
        Unit labels (default ``0..N-1``).
    keep_trials : bool
        Keep repeated conditions as a ``trial`` dim instead of averaging them.
    attrs : dict, optional
        Provenance merged into ``.attrs``.

    Returns
    -------
    xarray.DataArray
        ``(condition, time, unit[, trial])`` float64, ready for :func:`neurosim.compare`.

    Examples
    --------
    >>> import numpy as np
    >>> W = np.random.default_rng(0).normal(size=(3, 5))
    >>> x = np.random.default_rng(1).normal(size=(4, 10, 3))          # 4 conditions, 10 steps
    >>> da = record(lambda x: np.tanh(x @ W), x, conditions=[0, 90, 180, 270], dt=10.0)
    >>> da.dims, da.sizes["unit"], da.time.values[:3].tolist()
    (('condition', 'time', 'unit'), 5, [0.0, 10.0, 20.0])
    """
    if not callable(step_fn):
        raise TypeError(f"step_fn must be a callable mapping (batch, time, in) inputs to (batch, time, units) "
                        f"activity; got {type(step_fn).__name__}.")
    x, labels, t, time_units, provenance = _resolve_inputs(inputs, conditions, time, dt)
    out = step_fn(x.astype(np.float64))
    try:
        act = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"step_fn returned {type(out).__name__}, which is not an array of numbers ({err}); "
                        "return the (batch, time, units) activity as an array.") from None
    if act.ndim != 3 or act.shape[:2] != x.shape[:2]:
        raise ValueError(f"step_fn returned activity of shape {act.shape}; expected (batch, time, units) = "
                         f"({x.shape[0]}, {x.shape[1]}, N) for inputs of shape {x.shape}. A time-major model "
                         "needs its output transposed (or batch_first=False in record_torch).")
    if not np.isfinite(act).all():
        raise ValueError(f"step_fn returned {int((~np.isfinite(act)).sum())} NaN or infinite activity values.")
    return group_trials(act, labels, time=t, units=units, keep_trials=keep_trials,
                        attrs={"source": "neurosim.record", **provenance, **(attrs or {})}, time_units=time_units)


def record_torch(
    module: Any,
    inputs: Any,
    *,
    layer: str | None = None,
    batch_first: bool = True,
    **kwargs: Any,
) -> xr.DataArray:
    """Activity of a PyTorch module's layer (a forward hook), as a labelled trajectory array.

    The module is run once on the inputs (``torch.no_grad()``, float32 on the module's
    device); a forward hook on ``module.get_submodule(layer)`` keeps that layer's output. A
    tuple output (``nn.RNN``, ``nn.GRU``, ``nn.LSTM`` return ``(output, h_n)``) gives its first
    element.

    Parameters
    ----------
    module : torch.nn.Module
        The model.
    inputs : array (batch, time, in), a batch or a task
        As in :func:`record`.
    layer : str, optional
        Dotted name of the sub-module whose output is recorded (as listed by
        ``module.named_modules()``, e.g. ``"rnn"``); None records the module's own output.
    batch_first : bool
        True: the module takes ``(batch, time, in)`` and the layer returns ``(batch, time,
        units)``; False: both are time-major (PyTorch's default for ``nn.RNN``).
    **kwargs
        ``conditions``, ``time``, ``dt``, ``units``, ``keep_trials``, ``attrs`` of :func:`record`.

    Returns
    -------
    xarray.DataArray
        ``(condition, time, unit)`` (see :func:`record`).

    Examples
    --------
    Skipped here (torch is optional; ``tests/test_record.py`` runs it where torch is installed):

    >>> import torch                                                    # doctest: +SKIP
    >>> net = torch.nn.Sequential()                                     # doctest: +SKIP
    >>> net.add_module("rnn", torch.nn.RNN(3, 16, batch_first=True))     # doctest: +SKIP
    >>> x = np.zeros((4, 20, 3))                                        # doctest: +SKIP
    >>> record_torch(net, x, layer="rnn", conditions=[0, 90, 180, 270], dt=10.0).sizes["unit"]  # doctest: +SKIP
    16
    """
    import torch  # optional dependency: only this adapter needs it

    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module; got {type(module).__name__}.")
    if not isinstance(batch_first, (bool, np.bool_)):
        raise TypeError(f"batch_first must be True or False; got {batch_first!r}.")
    if layer is None:
        target = module
    else:
        names = [n for n, _ in module.named_modules() if n]
        if layer not in names:
            raise ValueError(f"layer={layer!r} is not a sub-module of the model; its sub-modules are {names}.")
        target = module.get_submodule(layer)
    try:
        param = next(module.parameters())
        device, dtype = param.device, param.dtype
    except StopIteration:
        device, dtype = torch.device("cpu"), torch.float32

    def step_fn(x: np.ndarray) -> np.ndarray:
        kept: list[Any] = []

        def hook(_mod: Any, _inp: Any, output: Any) -> None:
            kept.append(output[0] if isinstance(output, (tuple, list)) else output)

        handle = target.register_forward_hook(hook)
        try:
            xt = torch.as_tensor(x if batch_first else np.swapaxes(x, 0, 1), dtype=dtype, device=device)
            with torch.no_grad():
                module(xt)
        finally:
            handle.remove()
        if not kept:
            raise RuntimeError(f"layer {layer!r} was not called during the forward pass; record another layer.")
        act = kept[-1].detach().to("cpu").double().numpy()
        return act if batch_first else np.swapaxes(act, 0, 1)

    attrs = {"model": type(module).__name__, **({"layer": layer} if layer else {}), **kwargs.pop("attrs", {})}
    return record(step_fn, inputs, attrs=attrs, **kwargs)


def record_jax(fn: Callable, inputs: Any, *, params: Any = None, **kwargs: Any) -> xr.DataArray:
    """Activity of a JAX function, as a labelled trajectory array.

    Parameters
    ----------
    fn : callable
        ``fn(x)`` or, with ``params``, ``fn(params, x)``: ``x`` is a ``jax.numpy`` array
        ``(batch, time, in)``, the result the activity ``(batch, time, units)`` (e.g. the
        hidden states of a ``jax.lax.scan`` RNN). It may be jitted.
    inputs : array (batch, time, in), a batch or a task
        As in :func:`record`.
    params : pytree, optional
        The model's parameters, passed first.
    **kwargs
        ``conditions``, ``time``, ``dt``, ``units``, ``keep_trials``, ``attrs`` of :func:`record`.

    Returns
    -------
    xarray.DataArray
        ``(condition, time, unit)`` (see :func:`record`).

    Examples
    --------
    Skipped here (jax is optional; ``tests/test_record.py`` runs it where jax is installed):

    >>> import jax.numpy as jnp                                          # doctest: +SKIP
    >>> W = jnp.ones((3, 8))                                             # doctest: +SKIP
    >>> record_jax(lambda p, x: jnp.tanh(x @ p), np.zeros((2, 5, 3)), params=W).sizes["unit"]  # doctest: +SKIP
    8
    """
    import jax.numpy as jnp  # optional dependency: only this adapter needs it

    if not callable(fn):
        raise TypeError(f"fn must be a callable; got {type(fn).__name__}.")

    def step_fn(x: np.ndarray) -> np.ndarray:
        xj = jnp.asarray(x, dtype=jnp.float32)
        return np.asarray(fn(xj) if params is None else fn(params, xj), dtype=np.float64)

    attrs = {"model": getattr(fn, "__name__", type(fn).__name__), **kwargs.pop("attrs", {})}
    return record(step_fn, inputs, attrs=attrs, **kwargs)
