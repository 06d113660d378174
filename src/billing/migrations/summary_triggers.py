"""Tables of sums kept by triggers on the table they sum, in the writing transaction, on
both databases: each written row takes its old figures out of their group (`OLD`) and
puts its new ones in (`NEW`). Migrations that add such a table describe it with a
`Summary` and execute what `triggers` returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """`key` and `values`: column -> SQL over `{row}` (OLD or NEW); `values` also take
    `{sign}` (1 or -1). `counted`: the SQL condition, over `{row}`, of a row that has a
    group. `changed`: the source columns whose change moves a row's figures."""

    name: str
    source: str
    key: dict[str, str]
    values: dict[str, str]
    counted: str
    changed: tuple[str, ...]

    def _move(self, row: str, sign: int) -> str:
        """Add a row's figures to (sign 1) or take them from (sign -1) its group."""
        columns = ", ".join(f'"{column}"' for column in (*self.key, *self.values))
        figures = ", ".join(
            [sql.format(row=row) for sql in self.key.values()]
            + [sql.format(row=row, sign=sign) for sql in self.values.values()]
        )
        conflict = ", ".join(f'"{column}"' for column in self.key)
        add = ", ".join(f'"{c}" = {self.name}."{c}" + excluded."{c}"' for c in self.values)
        return (
            f"INSERT INTO {self.name} ({columns}) SELECT {figures}"
            f" WHERE {self.counted.format(row=row)}"
            f" ON CONFLICT ({conflict}) DO UPDATE SET {add}"
        )

    def _changed(self, dialect: str) -> str:
        # SQLite's null-safe comparison is `IS NOT` (`IS DISTINCT FROM` only from 3.39).
        differs = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
        return " OR ".join(f'OLD."{c}" {differs} NEW."{c}"' for c in self.changed)

    def triggers(self, dialect: str) -> list[str]:
        old, new = self._move("OLD", -1), self._move("NEW", 1)
        if dialect != "postgresql":
            return [
                f"CREATE TRIGGER {self.name}_inserted AFTER INSERT ON {self.source}"
                f" BEGIN {new}; END",
                f"CREATE TRIGGER {self.name}_deleted AFTER DELETE ON {self.source}"
                f" BEGIN {old}; END",
                f"CREATE TRIGGER {self.name}_changed AFTER UPDATE ON {self.source}"
                f" WHEN {self._changed(dialect)} BEGIN {old}; {new}; END",
            ]
        return [
            f"""
            CREATE FUNCTION {self.name}_move() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP <> 'INSERT' THEN {old}; END IF;
                IF TG_OP <> 'DELETE' THEN {new}; END IF;
                RETURN NULL;
            END $$
            """,
            f"CREATE TRIGGER {self.name}_written AFTER INSERT OR DELETE ON {self.source}"
            f" FOR EACH ROW EXECUTE FUNCTION {self.name}_move()",
            f"CREATE TRIGGER {self.name}_changed AFTER UPDATE ON {self.source}"
            f" FOR EACH ROW WHEN ({self._changed(dialect)}) EXECUTE FUNCTION {self.name}_move()",
        ]

    def fill(self) -> str:
        """Sum the source's rows as they stand into the (empty) table."""
        key = [sql.format(row=self.source) for sql in self.key.values()]
        sums = [f"sum({sql.format(row=self.source, sign=1)})" for sql in self.values.values()]
        columns = ", ".join(f'"{column}"' for column in (*self.key, *self.values))
        return (
            f"INSERT INTO {self.name} ({columns}) SELECT {', '.join(key + sums)}"  # noqa: S608 (no input)
            f" FROM {self.source} WHERE {self.counted.format(row=self.source)}"
            f" GROUP BY {', '.join(key)}"
        )

    def drop(self, dialect: str) -> list[str]:
        if dialect == "postgresql":
            return [
                f"DROP TRIGGER {self.name}_changed ON {self.source}",
                f"DROP TRIGGER {self.name}_written ON {self.source}",
                f"DROP FUNCTION {self.name}_move()",
            ]
        return [f"DROP TRIGGER {self.name}_{when}" for when in ("inserted", "deleted", "changed")]
