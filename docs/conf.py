"""Sphinx configuration: the API reference from the docstrings (numpydoc style, as Brian2 writes them)."""
import os
import sys

sys.path.insert(0, os.path.abspath('..'))

project = 'gle-brian'
author = 'The gle-brian developers'
copyright = '2026, The gle-brian developers'
extensions = ['sphinx.ext.autodoc', 'sphinx.ext.mathjax', 'numpydoc']
numpydoc_show_class_members = False      # members are listed by autodoc
numpydoc_validation_checks = set()
autodoc_member_order = 'bysource'
autodoc_default_options = {'members': True, 'show-inheritance': True}
exclude_patterns = ['_build']
html_theme = 'alabaster'
nitpicky = False
