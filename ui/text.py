"""Showing user text safely: Streamlit renders st.warning/st.error/st.markdown text as Markdown,
where user text could become a link, an image, LaTeX or a colour directive. `plain()` escapes every
Markdown-active character so the text shows exactly as typed (HTML is never enabled anywhere)."""

from __future__ import annotations

_ACTIVE = set("\\`*_{}[]()#+-.!|<>~$:=&\"'")


def plain(text: str) -> str:
    escaped = "".join("\\" + c if c in _ACTIVE else c for c in str(text))
    # Markdown also turns bare web addresses into links: a zero-width space breaks the pattern.
    return escaped.replace("\\:/", "\\:\u200b/").replace("www\\.", "www\u200b\\.")


def engine_note(runs) -> str:
    """Which engine drew each path, in one quiet line; a compiled graph that could not be used is said
    here once (the eager reference drew those paths), never as an error box."""
    fused = [r.label for r in runs if r.engine == "fused"]
    eager = [r.label for r in runs if r.engine != "fused"]
    parts = []
    if fused:
        parts.append(f"compiled engine (equal to the reference to 1e-9): {', '.join(fused)}")
    if eager:
        parts.append(f"eager reference engine (bit-exact to torch.optim): {', '.join(eager)}")
    note = "Drawn by the " + "; by the ".join(parts) + "." if parts else ""
    if any("could not be used" in r.engine or "failed" in r.engine for r in runs):
        note += " A stored compiled graph could not be used (damaged or failed): the reference engine drew those."
    return plain(note)


def schedule_note(schedule: str, optimizer_keys) -> str:
    """Which selected optimizers replace the schedule (Schedule-Free): they run at their constant η,
    said once under the figure; "" when none is selected or the schedule is constant."""
    from optimizers import get_optimizer

    names = [get_optimizer(k).name for k in optimizer_keys if get_optimizer(k).replaces_schedule]
    if schedule == "constant" or not names:
        return ""
    verb = "replaces" if len(names) == 1 else "replace"
    return plain(f"{', '.join(names)} {verb} the learning-rate schedule: drawn at a constant η, the schedule ignored.")
