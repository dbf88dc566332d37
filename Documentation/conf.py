# SPDX-License-Identifier: GPL-2.0
# Sphinx configuration of the family's documentation: `sphinx-build -W -b html Documentation
# out/docs` (ci/docs, a make check step). Plain Sphinx, no extension: the pages are ordinary
# reStructuredText as the kernel's Documentation/ writes it, so that they can move into a
# kernel tree's Documentation/ as they are.
project = "vchiq-rs"
copyright = "The vchiq-rs developers"
master_doc = "index"
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["_build"]
highlight_language = "none"
html_theme = "alabaster"
