"""Contract tests over every registered surface, at default and non-default parameters.

Each surface's hand-written gradient and Hessian must equal torch.autograd's on f; the component
forms (value_xy, grad_xy, hess_xy) must agree with the (..., 2) forms; listed minima must be
minima; metadata and parameter validation must hold. A few facts specific to one surface follow.
"""

from __future__ import annotations

import math

import pytest
import torch

import surfaces
from surfaces import available_surfaces, get_surface

# ---- the table of surfaces under test ---------------------------------------------------------

# Every registered surface at its defaults, plus non-default parameter values for those that have any.
NON_DEFAULT = [
    ("ravine", {"condition": 300.0, "angle": 35.0}),
    ("ravine", {"condition": 1000.0, "angle": -90.0}),
    ("ravine", {"condition": 2.0, "angle": 60.0}),
    ("rosenbrock", {"a": 1.2, "b": 20.0}),
    ("rosenbrock", {"a": 0.5, "b": 1000.0}),
    ("plateau", {"width": 0.7}),
    ("plateau", {"width": 3.0}),
    ("two_wells", {"tilt": 0.2}),
    ("two_wells", {"tilt": 1.0}),
]
CASES = [(key, {}) for key in available_surfaces()] + [
    (key, params) for key, params in NON_DEFAULT if key in available_surfaces()
]


def case_id(case) -> str:
    key, params = case
    if not params:
        return key
    return key + "[" + ",".join(f"{k}={v:g}" for k, v in params.items()) + "]"


@pytest.fixture(params=CASES, ids=[case_id(c) for c in CASES])
def surface(request):
    key, params = request.param
    return get_surface(key, **params)


def test_every_registered_surface_is_in_the_table():
    assert {key for key, _ in CASES} == set(available_surfaces())
    assert len(available_surfaces()) == len(set(available_surfaces()))


# ---- helpers ---------------------------------------------------------------------------------

N_POINTS = 50
RTOL = 1e-10


def random_points(surface, shape=(N_POINTS,), dtype=torch.float64, seed=0) -> torch.Tensor:
    """Uniform points inside the surface's view, shape (*shape, 2)."""
    gen = torch.Generator().manual_seed(seed)
    (x0, x1), (y0, y1) = surface.bounds
    u = torch.rand(*shape, 2, generator=gen, dtype=torch.float64)
    lo = torch.tensor([x0, y0], dtype=torch.float64)
    hi = torch.tensor([x1, y1], dtype=torch.float64)
    return (lo + u * (hi - lo)).to(dtype)


def autograd_grad_and_hessian(surface, xy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """∇f and ∇²f by double backward; points are independent, so differentiating the sum works."""
    xy = xy.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(surface.f(xy).sum(), xy, create_graph=True)
    rows = [torch.autograd.grad(g[..., i].sum(), xy, retain_graph=True)[0] for i in range(2)]
    return g.detach(), torch.stack(rows, dim=-2).detach()


def assert_close_to_scale(actual, expected, rtol=RTOL, point_dims=1):
    """Equal up to rtol, with an absolute tolerance of rtol times the largest magnitude at that point.

    point_dims: how many trailing dimensions make up one point's value (1 for a gradient, 2 for a
    Hessian, 0 for f), so a large entry at one point does not hide an error at another.
    """
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    dims = tuple(range(expected.dim() - point_dims, expected.dim()))
    scale = expected.abs().amax(dim=dims, keepdim=True) if dims else expected.abs()
    atol = rtol * scale.clamp(min=1.0)
    err = (actual - expected).abs()
    bad = err > atol + rtol * expected.abs()
    assert not bool(bad.any()), (
        f"{int(bad.sum())} entries differ; worst error {float((err / (atol + rtol * expected.abs())).max()):.3g}"
        f" × tolerance; actual {actual[bad][:4].tolist()} expected {expected[bad][:4].tolist()}"
    )


def as_point(p) -> torch.Tensor:
    return torch.tensor(p, dtype=torch.float64)


def inside(bounds, p) -> bool:
    (x0, x1), (y0, y1) = bounds
    return x0 <= p[0] <= x1 and y0 <= p[1] <= y1


# ---- derivatives -------------------------------------------------------------------------------


def test_grad_equals_autograd(surface):
    xy = random_points(surface)
    expected, _ = autograd_grad_and_hessian(surface, xy)
    assert_close_to_scale(surface.grad(xy), expected, point_dims=1)


def test_hessian_equals_autograd(surface):
    xy = random_points(surface)
    _, expected = autograd_grad_and_hessian(surface, xy)
    assert_close_to_scale(surface.hessian(xy), expected, point_dims=2)


def test_hessian_equals_autograd_functional_hessian_pointwise(surface):
    for p in random_points(surface, shape=(5,), seed=1):
        expected = torch.autograd.functional.hessian(surface.f, p)
        assert_close_to_scale(surface.hessian(p), expected, point_dims=2)


def test_hessian_is_symmetric(surface):
    h = surface.hessian(random_points(surface))
    assert torch.equal(h[..., 0, 1], h[..., 1, 0])


@pytest.mark.parametrize("shape", [(), (5,), (3, 4)], ids=["(2,)", "(5,2)", "(3,4,2)"])
def test_output_shapes(surface, shape):
    xy = random_points(surface, shape=shape)
    assert surface.f(xy).shape == shape
    assert surface(xy).shape == shape
    assert surface.grad(xy).shape == (*shape, 2)
    assert surface.hessian(xy).shape == (*shape, 2, 2)


@pytest.mark.parametrize("shape", [(), (5,), (3, 4)], ids=["(2,)", "(5,2)", "(3,4,2)"])
def test_derivatives_match_autograd_at_every_shape(surface, shape):
    xy = random_points(surface, shape=shape, seed=2)
    g, h = autograd_grad_and_hessian(surface, xy)
    assert_close_to_scale(surface.grad(xy), g, point_dims=1)
    assert_close_to_scale(surface.hessian(xy), h, point_dims=2)


def test_component_forms_agree_with_stacked_forms(surface):
    xy = random_points(surface, shape=(3, 4))
    x, y = xy[..., 0], xy[..., 1]
    assert torch.equal(surface.value_xy(x, y), surface.f(xy))
    gx, gy = surface.grad_xy(x, y)
    g = surface.grad(xy)
    assert gx.shape == gy.shape == x.shape
    assert torch.equal(gx, g[..., 0]) and torch.equal(gy, g[..., 1])
    hxx, hxy, hyy = (torch.broadcast_to(t, x.shape) for t in surface.hess_xy(x, y))
    h = surface.hessian(xy)
    assert torch.equal(hxx, h[..., 0, 0])
    assert torch.equal(hxy, h[..., 0, 1])
    assert torch.equal(hyy, h[..., 1, 1])


def test_component_forms_do_not_modify_their_inputs(surface):
    xy = random_points(surface)
    x, y = xy[:, 0].clone(), xy[:, 1].clone()
    x0, y0 = x.clone(), y.clone()
    gx, gy = surface.grad_xy(x, y)
    surface.value_xy(x, y)
    surface.hess_xy(x, y)
    assert torch.equal(x, x0) and torch.equal(y, y0)
    assert gx.data_ptr() != x.data_ptr() and gy.data_ptr() != y.data_ptr()  # no alias a caller could change


# ---- dtypes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_outputs_keep_the_input_dtype(surface, dtype):
    xy = random_points(surface, shape=(3, 4), dtype=dtype)
    assert surface.f(xy).dtype == dtype
    assert surface.grad(xy).dtype == dtype
    assert surface.hessian(xy).dtype == dtype
    for part in (*surface.grad_xy(xy[..., 0], xy[..., 1]), *surface.hess_xy(xy[..., 0], xy[..., 1])):
        assert part.dtype == dtype


def test_float32_agrees_with_float64(surface):
    xy64 = random_points(surface)
    xy32 = xy64.float()
    for method, point_dims in ((surface.f, 0), (surface.grad, 1), (surface.hessian, 2)):
        expected = method(xy64)
        assert_close_to_scale(method(xy32).double(), expected, rtol=1e-4, point_dims=point_dims)


# ---- minima, start, bounds ---------------------------------------------------------------------


def test_bounds_are_ordered_intervals(surface):
    (x0, x1), (y0, y1) = surface.bounds
    assert all(math.isfinite(v) for v in (x0, x1, y0, y1))
    assert x0 < x1 and y0 < y1


def test_minima_have_zero_gradient(surface):
    for p in surface.minima:
        g = surface.grad(as_point(p))
        assert float(g.norm()) < 1e-8, f"|∇f{p}| = {float(g.norm()):.3g}"


def test_minima_have_positive_definite_hessian(surface):
    for p in surface.minima:
        eig = torch.linalg.eigvalsh(surface.hessian(as_point(p)))
        assert bool((eig > 0).all()), f"Hessian eigenvalues at {p}: {eig.tolist()}"


def test_minima_lie_inside_bounds(surface):
    for p in surface.minima:
        assert len(p) == 2
        assert inside(surface.bounds, p), f"minimum {p} outside {surface.bounds}"


def test_start_lies_inside_bounds(surface):
    assert len(surface.start) == 2
    assert inside(surface.bounds, surface.start)


def test_start_is_not_a_minimum(surface):
    start = as_point(surface.start)
    span = min(surface.span)
    f_start = float(surface.f(start))
    for p in surface.minima:
        assert float((start - as_point(p)).norm()) > 1e-3 * span, f"start {surface.start} sits on minimum {p}"
        assert f_start > float(surface.f(as_point(p)))


# ---- surface-specific facts --------------------------------------------------------------------


def test_saddle_has_a_strict_saddle_at_the_origin():
    s = get_surface("saddle")
    origin = torch.zeros(2, dtype=torch.float64)
    assert torch.equal(s.grad(origin), torch.zeros(2, dtype=torch.float64))
    eig = torch.linalg.eigvalsh(s.hessian(origin))
    assert float(eig.min()) < 0 < float(eig.max())


def test_unbounded_saddle_has_a_saddle_at_the_origin_and_no_minima():
    s = get_surface("saddle_unbounded")
    assert s.minima == ()
    origin = torch.zeros(2, dtype=torch.float64)
    assert torch.equal(s.grad(origin), torch.zeros(2, dtype=torch.float64))
    eig = torch.linalg.eigvalsh(s.hessian(origin))
    assert float(eig.min()) < 0 < float(eig.max())


def test_himmelblau_has_four_distinct_minima_of_value_zero():
    s = get_surface("himmelblau")
    assert len(s.minima) == 4
    for p in s.minima:
        assert abs(float(s.f(as_point(p)))) < 1e-12
    pts = torch.tensor(s.minima, dtype=torch.float64)
    dist = torch.cdist(pts, pts) + torch.eye(4, dtype=torch.float64) * 1e9
    assert float(dist.min()) > 1.0
    assert (3.0, 2.0) in [tuple(round(c, 12) for c in p) for p in s.minima]


@pytest.mark.parametrize("a, b", [(1.0, 100.0), (1.2, 20.0), (0.5, 1000.0), (1.5, 1.0)])
def test_rosenbrock_minimum_is_a_a_squared(a, b):
    s = get_surface("rosenbrock", a=a, b=b)
    assert len(s.minima) == 1
    mx, my = s.minima[0]
    assert mx == pytest.approx(a, rel=1e-15)
    assert my == pytest.approx(a * a, rel=1e-15)
    assert float(s.f(as_point(s.minima[0]))) == pytest.approx(0.0, abs=1e-24)


@pytest.mark.parametrize("tilt", [0.2, 0.5, 1.0])
def test_two_wells_first_minimum_is_the_deeper_one(tilt):
    s = get_surface("two_wells", tilt=tilt)
    assert len(s.minima) == 2
    deep, shallow = (float(s.f(as_point(p))) for p in s.minima)
    assert deep < shallow
    assert s.minima[0][0] < 0 < s.minima[1][0]  # the tilt t·x deepens the left well


@pytest.mark.parametrize(
    "condition, angle", [(10.0, 0.0), (300.0, 35.0), (1000.0, -90.0), (2.0, 90.0), (50.0, -45.0), (7.5, 12.5)]
)
def test_ravine_curvatures_are_one_over_condition_and_one(condition, angle):
    s = get_surface("ravine", condition=condition, angle=angle)
    h = s.hessian(random_points(s, shape=(4,)))
    eig = torch.linalg.eigvalsh(h)  # ascending
    expected = torch.tensor([1.0 / condition, 1.0], dtype=torch.float64).expand_as(eig)
    torch.testing.assert_close(eig, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "condition, angle", [(10.0, 0.0), (300.0, 35.0), (1000.0, -90.0), (2.0, 90.0), (50.0, -45.0), (7.5, 12.5)]
)
def test_ravine_shallow_direction_points_along_the_angle(condition, angle):
    s = get_surface("ravine", condition=condition, angle=angle)
    _, vecs = torch.linalg.eigh(s.hessian(torch.zeros(2, dtype=torch.float64)))
    shallow = vecs[:, 0]
    theta = math.radians(angle)
    along = torch.tensor([math.cos(theta), math.sin(theta)], dtype=torch.float64)
    assert abs(float(shallow @ along)) == pytest.approx(1.0, abs=1e-12)


# ---- metadata and parameter validation -----------------------------------------------------------


@pytest.mark.parametrize("key", available_surfaces())
def test_metadata_is_filled_in(key):
    s = get_surface(key)
    assert s.key == key
    for attr in ("name", "latex", "description"):
        value = getattr(s, attr)
        assert isinstance(value, str) and value.strip(), f"{key}.{attr} is empty"


@pytest.mark.parametrize("key", available_surfaces())
def test_parameter_specs_are_consistent(key):
    s = get_surface(key)
    names = [p.name for p in s.params]
    assert len(names) == len(set(names))
    for p in s.params:
        assert p.label.strip(), f"{key}.{p.name} has no label"
        if p.kind in ("float", "int"):
            assert p.low is not None and p.high is not None
            assert p.low < p.high
            assert p.low <= p.default <= p.high, f"{key}.{p.name}: default {p.default} outside [{p.low}, {p.high}]"
        if p.log:
            assert p.low > 0
    # values holds every declared param at its default (the formula surface also keeps its free-text
    # expr and bounds there, which are not slider params).
    assert {k: s.values[k] for k in names} == {p.name: p.default for p in s.params}


def test_available_surfaces_is_a_tuple_of_keys():
    keys = available_surfaces()
    assert isinstance(keys, tuple) and keys
    assert all(isinstance(k, str) and k == k.lower() for k in keys)


def test_unknown_surface_is_a_value_error_listing_valid_keys():
    with pytest.raises(ValueError) as info:
        get_surface("nope")
    message = str(info.value)
    assert "nope" in message
    for key in available_surfaces():
        assert key in message


def test_unknown_surface_parameter_names_the_valid_ones():
    with pytest.raises(ValueError) as info:
        get_surface("ravine", bogus=1)
    message = str(info.value)
    assert "bogus" in message and "condition" in message and "angle" in message


@pytest.mark.parametrize("key", [k for k in available_surfaces() if not get_surface(k).params])
def test_surface_without_parameters_refuses_any(key):
    with pytest.raises(ValueError):
        get_surface(key, a=1.0)


BAD_VALUES = [float("nan"), float("inf"), -float("inf"), "3", None, True, [1.0]]


NUMERIC_PARAMS = [
    (k, p.name) for k in available_surfaces() for p in get_surface(k).params if p.kind in ("float", "int")
]


@pytest.mark.parametrize("key, name", NUMERIC_PARAMS, ids=[f"{k}.{n}" for k, n in NUMERIC_PARAMS])
@pytest.mark.parametrize("bad", BAD_VALUES, ids=repr)
def test_non_finite_or_wrong_type_parameter_is_refused(key, name, bad):
    with pytest.raises(ValueError):
        get_surface(key, **{name: bad})


@pytest.mark.parametrize(
    "key, params",
    [("ravine", {"condition": 0.0}), ("plateau", {"width": 0.0})],
    ids=["ravine.condition=0", "plateau.width=0"],
)
def test_parameter_value_that_leaves_the_surface_undefined_is_a_value_error(key, params):
    with pytest.raises(ValueError, match=next(iter(params))):
        get_surface(key, **params)


def test_parameters_are_coerced_to_float():
    s = get_surface("ravine", condition=300, angle=35)
    assert s.values == {"condition": 300.0, "angle": 35.0}
    assert all(type(v) is float for v in s.values.values())


def test_surfaces_compare_by_parameters():
    assert get_surface("ravine", condition=300) == get_surface("ravine", condition=300.0)
    assert get_surface("ravine", condition=300) != get_surface("ravine")
    assert hash(get_surface("plateau", width=0.7)) == hash(get_surface("plateau", width=0.7))


def test_registry_tuple_matches_keys():
    assert tuple(cls.key for cls in surfaces.SURFACES) == available_surfaces()
