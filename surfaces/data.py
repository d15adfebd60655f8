"""Two-weight models fitted to real data: the loss surfaces behind the cartoons.

Both surfaces are a mean over the examples of a data set that ships inside scikit-learn (the bundled
`load_*` sets only: nothing is downloaded). Each example i has a feature row A[i] = (a₁, a₂) and a
target t[i]; with z = x·a₁ + y·a₂ its loss is ℓ(z, t), and the surface is the mean of ℓ over the
examples. `data` returns (A, t), so anyone can recompute the loss; `grad_xy_on` and `value_xy_on`
take the same mean over a chosen subset of examples (minibatches).

Data are loaded once per (data set, options), kept in float64 on the CPU, and cast to the input's
dtype and device when a value is computed. Sums over the examples run in chunks, so a contour grid
(160 × 160 points) never holds a (points × examples) array of more than a few MB at once.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from spec import Param
from surfaces.base import Surface, refine_minimum

# Elements of one (points × examples) temporary; a chunk holds a few of them (float64: 4 MB each).
_CHUNK_ELEMENTS = 1 << 19


class _DataSurface(Surface):
    """A mean over examples of ℓ(x·a₁ + y·a₂, t). Subclasses load (A, t), give ℓ and ∂ℓ/∂z (for the
    minibatch forms) and their own value, gradient and Hessian over the whole data set."""

    # The fused engine's compiled graphs do not cover a sum over a data set (yet).
    compilable = False
    not_compiled_reason = "the surface's loss sums over its data set's examples"

    def _load(self) -> tuple[Tensor, Tensor]:
        """(A, t): float64 CPU tensors of shape (N, 2) and (N,), from a cached loader."""
        raise NotImplementedError

    @staticmethod
    def _loss(z: Tensor, t: Tensor) -> Tensor:
        raise NotImplementedError

    @staticmethod
    def _dloss(z: Tensor, t: Tensor) -> Tensor:
        """∂ℓ/∂z."""
        raise NotImplementedError

    @staticmethod
    def _d2loss(z: Tensor, t: Tensor) -> Tensor:
        """∂²ℓ/∂z²."""
        raise NotImplementedError

    # --- the data ----------------------------------------------------------------------------
    @property
    def data(self) -> tuple[Tensor, Tensor]:
        """(A, t): features (N, 2) and targets (N,), float64; copies, so a caller cannot change the surface."""
        a, t = self._load()
        return a.clone(), t.clone()

    @property
    def n_examples(self) -> int:
        return int(self._load()[1].shape[0])

    def _data_as(self, like: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(A, t, Aᵀ, Q) in the dtype and on the device of `like`, made once per (dtype, device).

        Aᵀ is a contiguous copy (a matmul with the transposed view was several times slower); Q (3, N)
        holds the products a₁², a₁a₂, a₂² that the Hessian sums.
        """
        key = (like.dtype, like.device)
        cache = self.__dict__.setdefault("_cast", {})
        if key not in cache:
            a, t = (v.to(dtype=like.dtype, device=like.device) for v in self._load())
            q = torch.stack((a[:, 0] * a[:, 0], a[:, 0] * a[:, 1], a[:, 1] * a[:, 1]))
            cache[key] = (a, t, a.T.contiguous(), q)
        return cache[key]

    # --- minibatches ---------------------------------------------------------------------------
    def _gather(self, x: Tensor, y: Tensor, idx: Tensor):
        a, t, _, _ = self._data_as(x)
        idx = idx.to(device=a.device)
        a1, a2, tt = a[:, 0][idx], a[:, 1][idx], t[idx]  # (..., k) each
        z = x.unsqueeze(-1) * a1 + y.unsqueeze(-1) * a2
        return z, a1, a2, tt

    def value_xy_on(self, x: Tensor, y: Tensor, idx: Tensor) -> Tensor:
        """Mean loss over the examples idx[b, :] for run b (x, y: (B,); idx: int64 (B, k)); an index that
        appears twice counts twice."""
        z, _, _, tt = self._gather(x, y, idx)
        return self._loss(z, tt).mean(-1)

    def grad_xy_on(self, x: Tensor, y: Tensor, idx: Tensor) -> tuple[Tensor, Tensor]:
        """Gradient of `value_xy_on`: mean of ℓ′(z, t)·(a₁, a₂) over the examples idx[b, :]."""
        z, a1, a2, tt = self._gather(x, y, idx)
        r = self._dloss(z, tt)
        return (r * a1).mean(-1), (r * a2).mean(-1)

    def hess_xy_on(self, x: Tensor, y: Tensor, idx: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Hessian of `value_xy_on` (a Newton-type rule's on a minibatch): mean of ℓ″(z, t)·(a₁², a₁a₂, a₂²)."""
        z, a1, a2, tt = self._gather(x, y, idx)
        s = self._d2loss(z, tt)
        return (s * a1 * a1).mean(-1), (s * a1 * a2).mean(-1), (s * a2 * a2).mean(-1)


# ---- linear regression -----------------------------------------------------------------------------

# name -> (loader, feature column, target column or None for the data set's own target, description)
_REGRESSION = {
    "diabetes": ("load_diabetes", 2, None, "body-mass index → disease progression a year later (442 patients)"),
    "iris": ("load_iris", 0, 2, "sepal length → petal length (150 iris flowers)"),
    "wine": ("load_wine", 5, 6, "total phenols → flavanoids (178 Italian wines)"),
}


def _bundled(loader: str):
    """A data set that ships inside scikit-learn (imported on first use: the import takes a while)."""
    from sklearn import datasets

    if loader == "load_diabetes":
        return datasets.load_diabetes(scaled=False)  # the raw units: BMI in kg/m², not pre-scaled
    return getattr(datasets, loader)()


@functools.cache
def _regression_data(dataset: str, standardize: bool) -> tuple[Tensor, Tensor]:
    loader, feature, target, _ = _REGRESSION[dataset]
    bunch = _bundled(loader)
    x = torch.as_tensor(bunch.data, dtype=torch.float64)
    a = x[:, feature]
    t = torch.as_tensor(bunch.target, dtype=torch.float64) if target is None else x[:, target]
    t = (t - t.mean()) / t.std(correction=0)  # z-scored: the same view for every data set
    if standardize:
        a = a - a.mean()
    a = a / a.std(correction=0)
    return torch.stack((a, torch.ones_like(a)), dim=1), t


class LinearRegression(_DataSurface):
    r"""Least squares with one feature: f(w, b) = mean over examples of ½(w·a + b − t)².

    Coordinates (x, y) = (slope w, intercept b). `data` is (A, t) with A[:, 0] = a, the feature as the
    loss uses it, and A[:, 1] = 1 (the intercept's column), so f = ½·mean((A @ (w, b) − t)²).

    The target t is always z-scored and the feature always divided by its standard deviation, so the
    view is the same for every data set. The Hessian is the feature's second-moment matrix
    [[E[a²], E[a]], [E[a], 1]]. With `standardize` off the feature keeps its mean m (in units of its
    spread): E[a²] = 1 + m², the Hessian's eigenvalues are far apart (condition number in the hundreds
    or thousands for these data sets, since real measurements sit far from zero) and the loss is a long
    tilted ravine along the line b = −m·w. With `standardize` on the feature is also centred: the
    Hessian is the identity and the ravine turns into a round bowl. Feature scaling IS conditioning:
    the same ravine as the ravine page, made by the data's units instead of a slider.

    The loss is quadratic, so value, gradient and Hessian come from the data's moments (E[a²], E[a],
    E[a·t], E[t], E[t²]), written around the exact least-squares minimum; they cost nothing per
    example. `grad_xy_on` takes the residuals of the chosen examples.

    Lesson (measured with the engine in float64 on every data set; tests/surfaces/test_data_surfaces.py
    checks it): at the lesson's learning rate plain gradient descent comes within 10⁻³ of the minimum's
    loss well inside the lesson's steps on the standardised bowl, but without standardising it ends
    still far up the ravine's floor; momentum, at the same η, gets much further along the floor. On the
    two steepest ravines (diabetes, iris) Adam ends about as far up the floor as SGD: its per-coordinate
    step does not straighten a tilted ravine.
    """

    key = "linear_regression"
    name = "Linear regression (real data)"
    latex = r"f(w, b) = \frac{1}{N}\sum_{i=1}^{N} \tfrac12\left(w\,a_i + b - t_i\right)^2"
    description = (
        "Least squares on real data: an uncentred feature makes a long tilted ravine that gradient descent "
        "crawls along; standardising the feature turns it into a round bowl (feature scaling is conditioning)."
    )
    params = (
        Param(
            "dataset",
            "diabetes",
            kind="choice",
            choices=tuple(_REGRESSION),
            label="data set",
            help="; ".join(f"{k}: {v[3]}" for k, v in _REGRESSION.items()) + " (bundled with scikit-learn).",
        ),
        Param(
            "standardize",
            False,
            kind="bool",
            label="standardise the feature (centre it too)",
            help="Off: the feature is only divided by its spread, so its mean stays and the bowl is a ravine. "
            "On: it is also centred, and the bowl is round.",
        ),
    )
    see_page = ("ravine", "The Ravine page: the same conditioning, on a cartoon")  # (url path, label)
    # Every data set's minimum, with or without standardising, lies inside: (w*, b*) = (ρ, −ρ·m).
    bounds = ((-5.0, 5.0), (-8.0, 6.0))
    start = (-1.5, 4.5)  # next to the ravine's floor, far up it
    lesson_optimizers = ("sgd", "momentum", "adam")
    # One η for SGD and momentum, below 2/λmax of the steepest ravine (iris), so nothing diverges.
    lesson_hparams = {"sgd": {"lr": 0.03}, "momentum": {"lr": 0.03}, "adam": {"lr": 0.05}}
    lesson_steps = 300

    def _load(self):
        return _regression_data(self.values["dataset"], self.values["standardize"])

    def setup(self, dataset, standardize):
        a_full, t = self._load()
        a = a_full[:, 0]
        ea, ea2 = float(a.mean()), float((a * a).mean())
        self.h = (ea2, ea, 1.0)  # the constant Hessian (h_ww, h_wb, h_bb)
        # The exact minimum from centred sums (no cancellation): w* = cov(a, t)/var(a), b* = E[t] − w*·E[a].
        ac, tc = a - a.mean(), t - t.mean()
        w = float((ac * tc).sum() / (ac * ac).sum())
        b = float(t.mean() - w * a.mean())
        self.minima = ((w, b),)
        self.f_star = float(0.5 * ((w * a + b - t) ** 2).mean())

    @staticmethod
    def _loss(z, t):
        r = z - t
        return 0.5 * r * r

    @staticmethod
    def _dloss(z, t):
        return z - t

    @staticmethod
    def _d2loss(z, t):
        return torch.ones_like(z)

    def _offsets(self, x, y):
        (w, b) = self.minima[0]
        return x - w, y - b

    def value_xy(self, x, y):
        # f = f* + ½ dᵀHd with d the offset from the minimum: exact for a quadratic, no cancellation.
        dx, dy = self._offsets(x, y)
        hww, hwb, hbb = self.h
        return self.f_star + 0.5 * (hww * dx * dx + 2.0 * hwb * dx * dy + hbb * dy * dy)

    def grad_xy(self, x, y):
        dx, dy = self._offsets(x, y)
        hww, hwb, hbb = self.h
        return hww * dx + hwb * dy, hwb * dx + hbb * dy

    def hess_xy(self, x, y):
        shape = torch.broadcast_shapes(x.shape, y.shape)
        return tuple(torch.full(shape, v, dtype=x.dtype, device=x.device) for v in self.h)

    def snippet_code(self) -> tuple[list[str], list[str]]:
        """(constants, body of f(w, rows=None)) for the PyTorch export (export/snippet.py): the script
        loads the same bundled data set and recomputes the loss from it."""
        loader, feature, target, _ = _REGRESSION[self.values["dataset"]]
        args = "scaled=False" if loader == "load_diabetes" else ""
        lines = [
            "from sklearn import datasets  # the data set ships inside scikit-learn: nothing is downloaded",
            "",
            f"_X = torch.as_tensor(datasets.{loader}({args}).data, dtype=torch.float64)",
            f"_a = _X[:, {feature}]  # the feature",
            "_t = "
            + (
                f"torch.as_tensor(datasets.{loader}({args}).target, dtype=torch.float64)"
                if target is None
                else f"_X[:, {target}]"
            )
            + "  # the target",
            "_t = (_t - _t.mean()) / _t.std(correction=0)  # z-scored",
        ]
        if self.values["standardize"]:
            lines.append("_a = _a - _a.mean()  # standardize: the feature centred ...")
        lines += [
            "_a = _a / _a.std(correction=0)  # ... and divided by its standard deviation",
            "A = torch.stack((_a, torch.ones_like(_a)), dim=1)  # (N, 2): feature and 1, times (slope, intercept)",
            "T = _t",
        ]
        body = [
            '"""Mean over the examples (those in rows, if given) of ½(w·a + b − t)²."""',
            "a, t = (A, T) if rows is None else (A[rows], T[rows])",
            "r = a @ w - t",
            "return 0.5 * (r * r).mean()",
        ]
        return lines, body

    @property
    def note(self) -> str:
        """What this data set and setting show, from the surface's own numbers (the Playground prints it)."""
        what = _REGRESSION[self.values["dataset"]][3]
        if self.values["standardize"]:
            return f"Data: {what}. The feature is standardised: the Hessian is the identity, a round bowl."
        return (
            f"Data: {what}. The feature is not centred: the Hessian's condition number is "
            f"{self.condition_number:,.0f}, a long tilted ravine, as on the Ravine page. Standardise it to make "
            "the bowl round."
        )

    @property
    def condition_number(self) -> float:
        hww, hwb, hbb = self.h
        eig = torch.linalg.eigvalsh(torch.tensor([[hww, hwb], [hwb, hbb]], dtype=torch.float64))
        return float(eig[1] / eig[0])


# ---- logistic regression ---------------------------------------------------------------------------

# name -> (loader, the two feature columns, the class counted as t = 1, the other class or None, description)
_CLASSIFICATION = {
    "iris_setosa": (
        "load_iris",
        (2, 3),
        1,
        0,
        "iris setosa (t = 0) vs versicolor (t = 1) on petal length and width: separable",
    ),
    "breast_cancer": (
        "load_breast_cancer",
        (0, 1),
        0,
        None,
        "breast tumours, malignant (t = 1) vs benign (t = 0), on mean radius and mean texture: they overlap",
    ),
}


@functools.cache
def _classification_data(dataset: str) -> tuple[Tensor, Tensor]:
    loader, columns, positive, other, _ = _CLASSIFICATION[dataset]
    bunch = _bundled(loader)
    x = torch.as_tensor(bunch.data, dtype=torch.float64)[:, list(columns)]
    label = torch.as_tensor(bunch.target)
    if other is not None:  # two classes of a three-class set
        keep = (label == positive) | (label == other)
        x, label = x[keep], label[keep]
    a = (x - x.mean(0)) / x.std(0, correction=0)  # each feature centred, unit standard deviation
    return a, (label == positive).to(torch.float64)


def separable_through_origin(a: Tensor, t: Tensor) -> bool:
    """Is there a w with (2t − 1)·(w·a) > 0 for every example? (Exact in 2-D: the signed points
    (2t − 1)·a must all lie in an open half-plane, i.e. their directions leave a gap wider than π.)"""
    v = a * (2.0 * t - 1.0).unsqueeze(-1)
    if bool((v.abs().amax(-1) == 0).any()):
        return False  # a point at the origin lies on every line through it
    angles = torch.sort(torch.atan2(v[:, 1], v[:, 0])).values
    gaps = torch.cat((angles[1:] - angles[:-1], (angles[:1] + 2 * math.pi) - angles[-1:]))
    return bool(gaps.max() > math.pi)


def _softplus(z: Tensor) -> Tensor:
    """log(1 + eᶻ), exact for every z (torch's softplus switches to z above 20, an error of e⁻²⁰)."""
    return torch.logaddexp(torch.zeros((), dtype=z.dtype, device=z.device), z)


class LogisticRegression(_DataSurface):
    r"""Logistic regression with two weights, no intercept, no regularisation.

    f(w₁, w₂) = mean over examples of log(1 + e^z) − t·z with z = w₁a₁ + w₂a₂ and t ∈ {0, 1}: the
    binary cross-entropy of σ(z) against t, written so that it is exact for every z. Coordinates
    (x, y) = (w₁, w₂). Each feature is centred and scaled to unit standard deviation (always), and
    `data` returns those features A (N, 2) with the labels t (N,).

    Separable data (some w puts every example on its own side of the line w·a = 0) have NO finite
    minimum: along such a w every z·(2t − 1) grows, the loss keeps falling towards 0 and the best
    weights are infinitely far away, so every path runs off towards infinity (ever more slowly, as
    the gradient dies out exponentially). `minima` is then empty. Data that overlap have one
    minimum, where the Hessian mean(σ(z)(1 − σ(z))·a aᵀ) is positive definite. `separable` says which.

    Lesson (measured with the engine in float64; tests/surfaces/test_data_surfaces.py checks it): from
    the same start, with the same hyperparameters, every lesson optimizer comes within 10⁻³ of the
    minimum's loss on the overlapping data and stays in the view, while on the separable data every
    one leaves the view within the lesson's steps with its loss still falling.
    """

    key = "logistic_regression"
    name = "Logistic regression (real data)"
    latex = (
        r"f(w) = \frac{1}{N}\sum_{i=1}^{N} \left[\log\left(1 + e^{z_i}\right) - t_i z_i\right],"
        r"\quad z_i = w_1 a_{i1} + w_2 a_{i2}"
    )
    description = (
        "Cross-entropy on real data: when the classes overlap there is one minimum; when a line separates them "
        "there is none: the loss keeps falling towards 0 and every path runs off to infinity."
    )
    params = (
        Param(
            "dataset",
            "iris_setosa",
            kind="choice",
            choices=tuple(_CLASSIFICATION),
            label="data set",
            help="; ".join(f"{k}: {v[4]}" for k, v in _CLASSIFICATION.items()) + " (bundled with scikit-learn).",
        ),
    )
    bounds = ((-2.0, 6.0), (-2.0, 5.0))
    # From here the separable data's paths leave through the top edge; the others turn down to their minimum.
    start = (-1.5, 2.5)
    lesson_optimizers = ("sgd", "momentum", "adam")
    # The Hessian is at most a quarter of the features' second moments, so SGD takes a long η safely.
    lesson_hparams = {"sgd": {"lr": 2.0}, "momentum": {"lr": 0.1}, "adam": {"lr": 0.1}}
    lesson_steps = 300

    def _load(self):
        return _classification_data(self.values["dataset"])

    def snippet_code(self) -> tuple[list[str], list[str]]:
        """(constants, body of f(w, rows=None)) for the PyTorch export (export/snippet.py)."""
        loader, columns, positive, other, _ = _CLASSIFICATION[self.values["dataset"]]
        lines = [
            "from sklearn import datasets  # the data set ships inside scikit-learn: nothing is downloaded",
            "",
            f"_bunch = datasets.{loader}()",
            f"_x = torch.as_tensor(_bunch.data, dtype=torch.float64)[:, {list(columns)}]",
            "_label = torch.as_tensor(_bunch.target)",
        ]
        if other is not None:
            lines += [
                f"_keep = (_label == {positive}) | (_label == {other})  # two classes of the three",
                "_x, _label = _x[_keep], _label[_keep]",
            ]
        lines += [
            "A = (_x - _x.mean(0)) / _x.std(0, correction=0)  # each feature centred, unit standard deviation",
            f"T = (_label == {positive}).to(torch.float64)  # t = 1 for class {positive}",
        ]
        body = [
            '"""Mean binary cross-entropy of sigmoid(w·a) against t over the examples (those in rows, if given)."""',
            "a, t = (A, T) if rows is None else (A[rows], T[rows])",
            "z = a @ w",
            "return (torch.logaddexp(torch.zeros_like(z), z) - t * z).mean()",
        ]
        return lines, body

    @property
    def note(self) -> str:
        """What this data set shows, from the surface's own analysis (the Playground prints it)."""
        what = _CLASSIFICATION[self.values["dataset"]][4]
        if self.separable:
            return (
                f"Data: {what}. A line through the origin separates the two classes, so the loss has no minimum: "
                "it keeps falling towards 0 as the weights grow, and every path runs off to infinity."
            )
        ((w1, w2),) = self.minima
        return f"Data: {what}. No line separates the classes, so the loss has one minimum, at ({w1:.3f}, {w2:.3f})."

    @property
    def work_per_run_step(self) -> float:
        """A gradient sums over every example: about half a hand-written surface's cost per example
        (measured, Adam, 4,096 runs: breast cancer's 569 examples cost ~300× Rosenbrock)."""
        return self.n_examples / 2

    def setup(self, dataset):
        a, t = self._load()
        self.separable = separable_through_origin(a, t)
        self.minima = () if self.separable else (refine_minimum(self, _damped_newton(self)),)

    @staticmethod
    def _loss(z, t):
        # softplus(z) − t·z is softplus(s·z) with s = 1 − 2t = ±1: no cancellation, exact as the loss → 0
        # (with t = 1 and a large z the difference form loses every digit of e⁻ᶻ).
        return _softplus((1.0 - 2.0 * t) * z)

    @staticmethod
    def _dloss(z, t):
        s = 1.0 - 2.0 * t
        return s * torch.sigmoid(s * z)  # σ(z) − t, without the cancellation near σ(z) = t

    @staticmethod
    def _d2loss(z, t):
        return torch.sigmoid(z) * torch.sigmoid(-z)  # σ(1 − σ), accurate in both tails

    # Sums over examples, a chunk of examples at a time: points × chunk stays near _CHUNK_ELEMENTS.
    def _chunks(self, x, y):
        """(z, Aᵀ, t, Q) for consecutive chunks of k examples; z (P, k). z is computed element by element
        (not as a matrix product, whose rounding depends on how many points there are), so a point's loss
        is the same whether it comes alone or in a grid."""
        a, t, at, q = self._data_as(x)
        xb, yb = torch.broadcast_tensors(x, y)
        xf, yf = xb.reshape(-1, 1), yb.reshape(-1, 1)
        step = max(1, _CHUNK_ELEMENTS // max(1, xf.shape[0]))
        for i in range(0, a.shape[0], step):
            j = i + step
            yield xf * at[0, i:j] + yf * at[1, i:j], at[:, i:j], t[i:j], q[:, i:j]

    def _mean(self, x, y, total: Tensor) -> Tensor:
        return (total / self.n_examples).reshape(torch.broadcast_shapes(x.shape, y.shape))

    def value_xy(self, x, y):
        total = 0.0
        for z, _, t, _ in self._chunks(x, y):
            total = total + self._loss(z, t).sum(-1)  # every term positive: the sum loses nothing
        return self._mean(x, y, total)

    # Each component is summed on its own, so it comes out as its own contiguous tensor (the engine
    # keeps x and y as separate rows).
    def grad_xy(self, x, y):
        gx = gy = 0.0
        for z, at, t, _ in self._chunks(x, y):
            r = self._dloss(z, t)
            gx, gy = gx + r @ at[0], gy + r @ at[1]
        return self._mean(x, y, gx), self._mean(x, y, gy)

    def hess_xy(self, x, y):
        hxx = hxy = hyy = 0.0
        for z, _, _, q in self._chunks(x, y):
            s = torch.sigmoid(z) * torch.sigmoid(-z)  # σ(1 − σ), accurate in both tails
            hxx, hxy, hyy = hxx + s @ q[0], hxy + s @ q[1], hyy + s @ q[2]
        return self._mean(x, y, hxx), self._mean(x, y, hxy), self._mean(x, y, hyy)


def _damped_newton(surface: Surface, iterations: int = 100) -> tuple[float, float]:
    """A start for refine_minimum: Newton steps from the origin, halved until the loss falls."""
    p = torch.zeros(2, dtype=torch.float64)
    f = surface.f(p)
    for _ in range(iterations):
        step = torch.linalg.solve(surface.hessian(p), surface.grad(p))
        scale = 1.0
        while scale > 1e-6:
            q = p - scale * step
            fq = surface.f(q)
            if fq < f:
                break
            scale *= 0.5
        else:
            break
        p, f = q, fq
        if float(step.abs().max()) < 1e-12:
            break
    return (float(p[0]), float(p[1]))
