"""The store: engine, schema migrations, fact tables, the fact writer and shared queries."""
