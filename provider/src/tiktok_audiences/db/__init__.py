"""The db room, the lowest with ``home``: what any database code of the package needs.

- :mod:`.pgcopy`: all PostgreSQL ``COPY`` code (rows in, rows out, the text format), used by the
  members room (reading the contact database) and the metadata room (bulk writes).
- :mod:`.reachability`: "cannot reach the database" as a message naming the connection and the fix.

May import: the standard library, sqlalchemy, pandas and pyarrow (psycopg2 inside pgcopy's functions). Nothing of the
package, and no Airflow.
"""
