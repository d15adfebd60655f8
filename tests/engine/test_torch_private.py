"""The private torch APIs of the compiled path are all there (a torch upgrade that removes one fails
here, naming it; the eager engine needs none of them)."""

from engine import torch_private


def test_every_private_torch_api_the_compiled_path_uses_exists():
    gone = torch_private.missing()
    assert gone == [], f"this torch lacks {', '.join(gone)}: adapt engine/torch_private.py"


def test_missing_names_an_api_that_is_gone(monkeypatch):
    monkeypatch.setattr(torch_private, "PRIVATE_APIS", (*torch_private.PRIVATE_APIS, "torch._inductor.not_there"))
    assert torch_private.missing() == ["torch._inductor.not_there"]
