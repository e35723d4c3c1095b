"""Mall CRM warehouse: a mall's daily exports turned into trusted, privacy-safe marts."""

__version__ = "0.1.0"
