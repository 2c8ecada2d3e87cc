"""Agents' corrections: validation (``corrections``) and the database they are kept in (``store``)."""
