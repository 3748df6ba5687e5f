"""Write the notebooks' cells from the definitions in ``scripts/notebook_cells/``.

Outputs of unchanged code cells are kept; changed cells come out empty until re-executed.

The notebooks are generated so their shared parts (Colab badge, set-up cell) stay identical.
After editing, regenerate them and execute them with the full profile so the committed copies
show real results:  python scripts/build_notebooks.py [names...] && bash scripts/run_notebooks.sh [names...]
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_notebook

sys.path.insert(0, str(Path(__file__).resolve().parent))

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = {"01_download": "nb01", "02_eda_dedup": "nb02", "03_train": "nb03", "04_evaluate": "nb04",
         "05_gradcam": "nb05", "06_serve": "nb06"}


def keep_outputs(cells: list, path: Path) -> None:
    """Carry over the committed outputs of every code cell whose source did not change.

    A cell that changed loses its outputs: they no longer show what its code does, so the
    notebook must be executed again (``scripts/run_notebooks.sh``) before it is committed.
    """
    if not path.is_file():
        return
    old = {(cell.get("id"), cell.source): cell for cell in nbformat.read(path, as_version=4).cells
           if cell.cell_type == "code"}
    for cell in cells:
        previous = old.get((cell.id, cell.source)) if cell.cell_type == "code" else None
        if previous is not None:
            cell.outputs, cell.execution_count = previous.outputs, previous.execution_count


def main(names: list[str]) -> None:
    for name in names or NAMES:
        module = f"notebook_cells.{NAMES[name]}"
        try:
            cells = importlib.import_module(module).cells()
        except ModuleNotFoundError as error:
            if error.name != module:
                raise
            print("not defined yet:", name)
            continue
        for index, cell in enumerate(cells):
            cell.id = f"{NAMES[name]}-{index:02d}"  # stable ids: regenerating changes only what changed
        path = NOTEBOOKS / f"{name}.ipynb"
        keep_outputs(cells, path)
        notebook = new_notebook(cells=cells)
        notebook.metadata.update({
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "accelerator": "GPU",
            "colab": {"provenance": []},
        })
        path.parent.mkdir(exist_ok=True)
        nbformat.write(notebook, path)
        print("wrote", path)


if __name__ == "__main__":
    main(sys.argv[1:])
