"""A real network's loss landscape (engine/landscape.py, issue 18): the registry's rules on a real MLP
equal torch.optim; the plane holds its endpoints; the grid is the real loss; paths are honest about
how far they leave the plane."""

from __future__ import annotations

import pytest
import torch

from engine import landscape as L

HIDDEN = 8  # a small network keeps these tests fast; the maths does not depend on the size


def torch_network(theta: torch.Tensor, hidden: int) -> torch.nn.Sequential:
    """The same network as torch modules, its weights copied from flat theta."""
    net = torch.nn.Sequential(torch.nn.Linear(L.INPUTS, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, L.CLASSES))
    net = net.double()
    w1, b1, w2, b2 = L.unflatten(theta, hidden)
    with torch.no_grad():
        for p, v in zip(net.parameters(), (w1, b1, w2, b2)):
            p.copy_(v)
    return net


@pytest.mark.parametrize(
    "key, hp, torch_opt",
    [
        ("sgd", {"lr": 0.3}, lambda ps: torch.optim.SGD(ps, lr=0.3)),
        (
            "momentum",
            {"lr": 0.1, "dampening": 0.1},
            lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1),
        ),
        ("adam", {"lr": 0.01, "weight_decay": 0.01}, lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.01)),
    ],
)
def test_the_registry_rules_on_the_network_equal_torch_optim(key, hp, torch_opt):
    """float64, 6 full-batch steps: the flat-vector rule and torch.optim's per-tensor loop agree to rounding
    (autograd on the flat vector and on the modules sum the same products in another order)."""
    steps = 6
    trained = L.train([key], steps=steps, hparams={key: hp}, hidden=HIDDEN, dtype=torch.float64)
    net = torch_network(trained.theta0, HIDDEN)
    opt = torch_opt(list(net.parameters()))
    x, y, _, _ = L.digits_split(0)
    for t in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        torch.testing.assert_close(loss, trained.train_loss[key][t], rtol=1e-12, atol=0)
        loss.backward()
        opt.step()
        flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
        torch.testing.assert_close(flat, trained.weights[key][t + 1], rtol=1e-11, atol=1e-14)


def _torch_twinned() -> list[str]:
    from optimizers import get_optimizer

    out = []
    for key in L.elementwise_optimizers():
        twin = get_optimizer(key).torch_twin
        if twin is not None and twin.module == "torch.optim" and not twin.inexact and not twin.calls:
            out.append(key)
    return out


@pytest.mark.parametrize("key", _torch_twinned())
def test_every_elementwise_rule_torch_has_equals_its_twin_on_the_network(key, float64_default):
    """Beyond SGD, momentum and Adam: each element-wise optimizer with a torch.optim twin (class and
    keyword arguments as its spec declares them, default settings at a learning rate that trains) takes
    the same 5 steps on the network in float64 as torch.optim does on the modules (default dtype float64:
    torch keeps NAdam's μ product and ASGD's η and μ in it)."""
    from optimizers import get_optimizer

    spec = get_optimizer(key)
    hp = spec.resolve({"lr": L.TRAINS_WELL_LR.get(key, spec.defaults().get("lr"))})
    steps = 5
    trained = L.train([key], steps=steps, hparams={key: hp}, hidden=HIDDEN, dtype=torch.float64)
    net = torch_network(trained.theta0, HIDDEN)
    opt = getattr(torch.optim, spec.torch_twin.cls)(list(net.parameters()), **spec.torch_twin.arguments(hp))
    x, y, _, _ = L.digits_split(0)
    for t in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
        torch.testing.assert_close(flat, trained.weights[key][t + 1], rtol=1e-10, atol=1e-13)


def test_the_twinned_list_covers_the_adaptive_family():
    assert {"sgd", "momentum", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "nadam", "radam"} <= set(
        _torch_twinned()
    )


def test_initial_weights_are_pytorchs_linear_initialisation_bounds():
    theta = L.initial_weights(HIDDEN, seed=3)
    w1, b1, w2, b2 = L.unflatten(theta, HIDDEN)
    assert w1.abs().max() <= 1 / 8 and b1.abs().max() <= 1 / 8  # 1/√64
    assert w2.abs().max() <= HIDDEN**-0.5 and b2.abs().max() <= HIDDEN**-0.5
    assert torch.equal(theta, L.initial_weights(HIDDEN, seed=3))
    assert not torch.equal(theta, L.initial_weights(HIDDEN, seed=4))


def test_only_element_wise_rules_train_the_network():
    keys = L.elementwise_optimizers()
    assert {"sgd", "momentum", "adam", "rmsprop", "lion"} <= set(keys)
    assert not {"newton", "lbfgs", "full_adagrad", "shampoo", "muon", "sophia"} & set(keys)
    with pytest.raises(ValueError, match="element-wise"):
        L.train(["newton"], steps=2, hidden=HIDDEN)


@pytest.fixture(scope="module")
def scape():
    hp = {"sgd": {"lr": 0.5}, "adam": {"lr": 0.01}, "momentum": {"lr": 0.1}}
    return L.landscape(["sgd", "adam", "momentum"], steps=40, grid=21, hparams=hp, hidden=HIDDEN)


def test_the_plane_holds_the_initialisation_and_both_chosen_endpoints(scape):
    assert scape.plane == ("sgd", "adam")
    for key in scape.plane:
        path = scape.paths[key]
        scale = float(torch.hypot(path.a[-1], path.b[-1]))
        assert float(path.off_plane[-1]) <= 1e-9 * scale
        assert path.off_share <= 1e-9
    assert scape.paths["sgd"].b[-1].abs() <= 1e-9 * scape.paths["sgd"].a[-1].abs()  # A lies on the first axis
    for path in scape.paths.values():
        assert (float(path.a[0]), float(path.b[0]), float(path.off_plane[0])) == pytest.approx((0, 0, 0), abs=1e-12)


def test_the_grid_is_the_real_loss_and_covers_every_path(scape):
    x, y, _, _ = L.digits_split(0)
    trained = L.train(["sgd", "adam", "momentum"], steps=40, hparams=scape.meta["hparams"], hidden=HIDDEN)
    theta0 = trained.theta0.double()
    u1, u2 = L.plane(theta0, trained.weights["sgd"][-1].double(), trained.weights["adam"][-1].double())
    # a grid node recomputed from the plane's definition
    i, j = 7, 13
    node = theta0 + scape.a[j] * u1 + scape.b[i] * u2
    want = L.losses(node.float().unsqueeze(0), x.float(), y, HIDDEN).double()[0]
    torch.testing.assert_close(scape.loss[i, j], want, rtol=1e-6, atol=0)
    # at each chosen endpoint's projection the plane's loss is the endpoint's real training loss
    for key in scape.plane:
        p = scape.paths[key]
        on_plane = theta0 + p.a[-1] * u1 + p.b[-1] * u2
        value = L.losses(on_plane.float().unsqueeze(0), x.float(), y, HIDDEN)[0]
        torch.testing.assert_close(value.double(), p.loss[-1].double(), rtol=1e-5, atol=0)
    for p in scape.paths.values():
        assert scape.a[0] < p.a.min() and p.a.max() < scape.a[-1]
        assert scape.b[0] < p.b.min() and p.b.max() < scape.b[-1]


def test_a_third_optimizer_leaves_the_plane_and_says_by_how_much(scape):
    third = scape.paths["momentum"]
    assert third.off_share > 0.01  # its weights are not in the plane of the other two
    assert torch.all(third.off_plane >= 0) and float(third.off_plane[-1]) > 0


def test_training_lowers_both_losses_and_records_every_step(scape):
    for p in scape.paths.values():
        assert p.loss.shape == p.held_out_loss.shape == p.a.shape == (41,)
        assert p.loss[-1] < p.loss[0] and p.held_out_loss[-1] < p.held_out_loss[0]


def test_bad_requests_are_clear_errors():
    with pytest.raises(ValueError, match="two optimizers"):
        L.landscape(["sgd"], steps=2, hidden=HIDDEN)
    with pytest.raises(ValueError, match="different"):
        L.landscape(["sgd", "adam"], steps=2, plane_of=("sgd", "sgd"), hidden=HIDDEN)
    with pytest.raises(ValueError, match="grid"):
        L.landscape(["sgd", "adam"], steps=2, grid=1, hidden=HIDDEN)


def test_the_starting_learning_rates_train_the_network_well():
    """TRAINS_WELL_LR's promise (the page and the CLI start from it): 300 full-batch steps, seed 0, hidden 32
    take every one of these optimizers from ln 10 ≈ 2.3 to a training loss under 0.1, with no blow-up (the
    held-out loss ends within 2% of its best)."""
    keys = tuple(L.TRAINS_WELL_LR)
    trained = L.train(keys, steps=300, hparams={k: {"lr": lr} for k, lr in L.TRAINS_WELL_LR.items()}, hidden=32, seed=0)
    for key in keys:
        loss, held_out = trained.train_loss[key], trained.held_out_loss[key]
        assert float(loss[0]) > 2.0 and float(loss[-1]) < 0.1, (key, float(loss[-1]))
        assert float(held_out[-1]) <= 1.02 * float(held_out.min()), (key, float(held_out[-1]), float(held_out.min()))


def test_progress_goes_from_training_to_the_plane_and_ends_at_one():
    said = []
    L.landscape(("sgd", "adam"), steps=40, grid=5, progress=lambda f, text: said.append((f, text)))
    fractions = [f for f, _ in said]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    texts = [t for _, t in said]
    assert texts[0] == "training" and texts[-1] == "evaluating the plane"
    assert texts.index("evaluating the plane") > 1  # training reported its own steps before the plane began


# --- Li et al.'s filter-normalised random directions ---------------------------------------------------


def test_a_filter_normalised_direction_has_each_filters_norm_and_leaves_biases_alone():
    theta = L.initial_weights(HIDDEN, seed=2)
    d = L.filter_normalized_direction(theta, HIDDEN, torch.Generator().manual_seed(5))
    dw1, db1, dw2, db2 = L.unflatten(d, HIDDEN)
    w1, _, w2, _ = L.unflatten(theta, HIDDEN)
    torch.testing.assert_close(dw1.norm(dim=-1), w1.norm(dim=-1), rtol=1e-12, atol=0)
    torch.testing.assert_close(dw2.norm(dim=-1), w2.norm(dim=-1), rtol=1e-12, atol=0)
    assert not db1.any() and not db2.any()
    again = L.filter_normalized_direction(theta, HIDDEN, torch.Generator().manual_seed(5))
    other = L.filter_normalized_direction(theta, HIDDEN, torch.Generator().manual_seed(6))
    assert torch.equal(d, again) and not torch.equal(d, other)


def test_the_random_slice_is_the_real_loss_around_the_final_weights():
    trained = L.train(["sgd", "adam"], steps=30, hparams={"sgd": {"lr": 0.5}}, hidden=HIDDEN, seed=1)
    rs = L.random_slice("adam", trained, grid=9, span=0.5, seed=3, dtype=torch.float64)
    center = trained.weights["adam"][-1].double()
    x, y, _, _ = L.digits_split(1)
    # the centre node (odd grid) is the final weights themselves: their real loss, also as recorded in training
    assert float(rs.loss[4, 4]) == rs.center_loss
    assert rs.center_loss == pytest.approx(float(trained.train_loss["adam"][-1]), rel=1e-6)
    g = torch.Generator().manual_seed(3)
    d1 = L.filter_normalized_direction(center, HIDDEN, g)
    d2 = L.filter_normalized_direction(center, HIDDEN, g)
    i, j = 1, 7  # loss[i, j] is at (a[j], b[i])
    point = center + rs.a[j] * d1 + rs.b[i] * d2
    assert float(rs.loss[i, j]) == pytest.approx(float(L.losses(point[None], x, y, HIDDEN)[0]), rel=1e-12)
    # the share of Adam's move from θ₀ that lies in the span of the two directions
    move = center - trained.theta0
    basis = torch.linalg.qr(torch.stack([d1, d2], dim=1)).Q
    assert rs.path_share == pytest.approx(float((basis.T @ move).norm() / move.norm()), rel=1e-9)
    assert 0.0 <= rs.path_share < 0.5


def test_landscape_adds_the_random_slice_around_theta_a_when_asked():
    scape = L.landscape(("sgd", "adam"), steps=20, grid=5, plane_of=("adam", "sgd"), hidden=HIDDEN)
    assert scape.random is None
    scape = L.landscape(("sgd", "adam"), steps=20, grid=5, plane_of=("adam", "sgd"), hidden=HIDDEN, random_plane=True)
    assert scape.random.center_of == "adam" and scape.random.loss.shape == (5, 5)
    assert scape.random.center_loss == pytest.approx(float(scape.paths["adam"].loss[-1]), rel=1e-6)
