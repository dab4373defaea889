"""The results database (SQLAlchemy) and result sets as files (export and import)."""
