"""Knowledge graphs: import, store, lookup, mention matching, interop and embeddings.

This package never imports ``kgbert``.
"""
