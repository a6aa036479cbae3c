"""Sphinx configuration of the akida_nb site (build: ``python -m akida_nb.docs OUTDIR``).

Every build writes the generated pages into ``_generated/`` (git-ignored): the constraint reference from the
target data, the API page, and a copy of the tutorials, which myst-nb renders from their stored outputs
(``nb_execution_mode = "off"``). No extension fetches anything from the network (no intersphinx).
"""
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # document this checkout, whatever akida_nb is installed

import akida_nb  # noqa: E402
from akida_nb.docs import write_reference  # noqa: E402

project = "akida_nb"
author = "akida_nb contributors"
copyright = "akida_nb contributors"
release = version = akida_nb.__version__

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "img", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
root_doc = "index"

myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]
nb_execution_mode = "off"  # tutorials are rendered from their stored outputs, never executed here
nb_merge_streams = True

autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc sections say the types
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_ivar = True

html_theme = "pydata_sphinx_theme"
html_title = f"akida_nb {release}"
html_static_path = ["_static"]
html_css_files = ["akn-docs.css"]
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2, "secondary_sidebar_items": ["page-toc"],
                      "footer_start": ["copyright"], "footer_end": []}
html_show_sourcelink = False
# no left sidebar where it would list nothing, nor beside the wide reference tables
html_sidebars = {"_generated/reference/**": [], "_generated/api": [], "index": [], "getting_started": [],
                 "github_actions": [], "design": []}


def _generate(app, config):
    gen = HERE / "_generated"
    write_reference(gen)
    tutorials = gen / "tutorials"
    tutorials.mkdir(parents=True, exist_ok=True)
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        dest = tutorials / nb.name
        if not dest.is_file() or dest.read_bytes() != nb.read_bytes():
            shutil.copyfile(nb, dest)


def setup(app):
    app.connect("config-inited", _generate)
