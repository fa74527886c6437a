"""The README's library example must keep working."""
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "README.md"


def test_library_doc_example(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("PYTAP_TAPSET", raising=False)
    text = DOC.read_text().split("## Library", 1)[1]
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    ns = {}
    exec(compile(code, str(DOC), "exec"), ns)
    ns["test_timer_alias_expansion"]()
