"""Simulated comparisons with a known answer, for the coverage tests and benchmarks/coverage.py.

Data: ``C`` conditions × ``T`` time bins × ``q`` units, ``Y[c, t] = mu_c + 0.5 nu_{c,t}`` with
``mu_c, nu_{c,t} ~ N(0, I_q)`` independent, so conditions are independent draws and the
population covariance of a sample is ``1.25 I_q``. A model is the data plus independent noise,
``X = Y + sigma eps``. In the population (infinitely many conditions) ``Xc^T Yc / n -> 1.25 I``
(positive definite, so its nuclear norm is its trace), ``||Xc||^2 / n -> (1.25 + sigma^2) q`` and
the normalized angular Procrustes distance is

    d(sigma) = arccos(sqrt(1.25 / (1.25 + sigma^2))) / (pi / 2)

exactly: the truth every interval must cover.
"""

from __future__ import annotations

import numpy as np

from neurosim.trajectories import trajectories


def true_distance(sigma: float) -> float:
    """Population normalized Procrustes distance between the data and data + sigma noise."""
    return float(np.arccos(np.sqrt(1.25 / (1.25 + sigma ** 2))) / (np.pi / 2))


def _da(a, C, T):
    return trajectories(a, conditions=np.arange(C), time=np.arange(float(T)))


def simulate_pair(rng, sigmas, C=30, T=5, q=4):
    """Data and one model per noise level in ``sigmas``: ``({name: model}, data)``."""
    Y = rng.normal(size=(C, 1, q)) + 0.5 * rng.normal(size=(C, T, q))
    models = {f"m{k}": _da(Y + s * rng.normal(size=Y.shape), C, T) for k, s in enumerate(sigmas)}
    return models, _da(Y, C, T)


def simulate_networks(rng, sigma_a, sigma_b, n_init=8, tau=0.25, C=30, T=5, q=4):
    """A population of network pairs sharing an initialisation, as a table plus replicates' inputs.

    Initialisation ``i`` scales both rules' noise by ``exp(u_i)``, ``u_i ~ N(0, tau^2)`` (the
    shared, paired part); rule ``r`` has base noise ``sigma_r``. Returns ``(models, data, meta)``
    with ``meta`` one row per network (``run``, ``rule``, ``seed``).
    """
    Y = rng.normal(size=(C, 1, q)) + 0.5 * rng.normal(size=(C, T, q))
    models, meta = {}, []
    for i in range(n_init):
        u = tau * rng.normal()
        for rule, s in (("a", sigma_a), ("b", sigma_b)):
            name = f"{rule}{i}"
            models[name] = _da(Y + s * np.exp(u) * rng.normal(size=Y.shape), C, T)
            meta.append({"run": name, "rule": rule, "seed": i})
    return models, _da(Y, C, T), meta


def true_network_difference(sigma_a, sigma_b, tau=0.25, n_nodes=80) -> float:
    """``E_u[d(sigma_a e^u) - d(sigma_b e^u)]``, ``u ~ N(0, tau^2)`` (Gauss-Hermite quadrature)."""
    x, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    w = w / w.sum()
    return float(sum(wi * (true_distance(sigma_a * np.exp(tau * xi)) - true_distance(sigma_b * np.exp(tau * xi)))
                     for xi, wi in zip(x, w)))


def simulate_linear(rng, mu_a, mu_b, n_init=6, C=20, B=40, sd_net=0.3, sd_cond=0.3, sd_int=1.0):
    """A crossed networks × conditions design with a linear statistic, for :func:`rule_difference`.

    Network ``i`` of rule ``r`` scores ``z_ij = mu_r + n_i + c_j + w_ij`` on condition ``j``
    (``n_i`` shared by the pair with initialisation ``i``, plus an independent network part;
    ``c_j`` shared by all networks; ``w_ij`` the interaction); its "distance" is the mean over the
    ``C`` recorded conditions, and its bootstrap replicates are the means over ``B`` shared
    condition draws. The truth of the rule difference is ``mu_a − mu_b``. Returns ``(table,
    replicates)`` as :func:`rule_difference` takes them.
    """
    import pandas as pd

    c = sd_cond * rng.normal(size=C)
    draws = rng.integers(0, C, size=(B, C))
    rows, reps = [], {}
    for i in range(n_init):
        shared = sd_net * rng.normal()
        for rule, mu in (("a", mu_a), ("b", mu_b)):
            z = mu + shared + 0.5 * sd_net * rng.normal() + c + sd_int * rng.normal(size=C)
            name = f"{rule}{i}"
            rows.append({"run": name, "rule": rule, "seed": i, "distance": float(z.mean())})
            reps[name] = z[draws].mean(axis=1)
    return pd.DataFrame(rows), pd.DataFrame(reps)


def simulate_batch_orders(rng, mu=0.01, sd_init=0.02, sd_order=0.005, n_init=10, n_orders=2):
    """Networks from ``n_init`` initialisations, each trained by both rules on ``n_orders`` batch
    orders: rule "bptt" scores ``0.4 + N(0, 0.03²)`` and "eprop" the same plus the gap
    ``mu + a_i + e_ij`` (``a_i ~ N(0, sd_init²)`` shared by an initialisation's pairs,
    ``e_ij ~ N(0, sd_order²)``). The truth of e-prop − BPTT is ``mu``. Returns the table
    :func:`neurosim.experiments.rule_difference` takes (columns ``run, rule, g0, init_seed, seed,
    distance``).
    """
    import pandas as pd

    rows = []
    for i in range(n_init):
        a = rng.normal(0, sd_init)
        for j in range(n_orders):
            base = 0.4 + rng.normal(0, 0.03)
            gap = mu + a + rng.normal(0, sd_order)
            rows += [{"run": f"b{i}_{j}", "rule": "bptt", "g0": 1.0, "init_seed": i, "seed": j, "distance": base},
                     {"run": f"e{i}_{j}", "rule": "eprop", "g0": 1.0, "init_seed": i, "seed": j,
                      "distance": base + gap}]
    return pd.DataFrame(rows)
