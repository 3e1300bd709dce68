"""Knowledge base: load content files, render Markdown, build the static site, search.

Data flows one way: content files -> kb -> portal. Nothing in this package imports
``portal``.
"""
