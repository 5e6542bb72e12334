"""kgbert: knowledge- and linguistics-augmented BERT encoders, Chinese first."""
__version__ = "0.1.0"
