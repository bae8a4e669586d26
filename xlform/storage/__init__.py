"""The record of a return and the databases that keep things: SQLite and PostgreSQL engines (db, sqlite),
the collection of returns (store). Imports only the base modules (errors)."""
