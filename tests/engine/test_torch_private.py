"""The private torch APIs of the compiled path are all there (a torch upgrade that removes one fails
here, naming it; the eager engine needs none of them)."""

from engine import torch_private


def test_every_private_torch_api_the_compiled_path_uses_exists():
    gone = torch_private.missing()
    assert gone == [], f"this torch lacks {', '.join(gone)}: adapt engine/torch_private.py"


def test_missing_names_an_api_that_is_gone(monkeypatch):
    monkeypatch.setattr(torch_private, "PRIVATE_APIS", (*torch_private.PRIVATE_APIS, "torch._inductor.not_there"))
    assert torch_private.missing() == ["torch._inductor.not_there"]


def test_importing_the_engine_does_not_import_inductor_or_dynamo():
    """A server's cold start pays neither (about a second): the compiled path binds them on first use."""
    import subprocess
    import sys

    code = (
        "import sys, engine, engine.graph_build, engine.builder, ui.compute, figures.playground; "
        "print('torch._inductor' in sys.modules, 'torch._dynamo' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"], out.stdout + out.stderr
