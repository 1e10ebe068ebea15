//! A small dynamic-SQL builder shared by both backends: text with `$n` placeholders (which SQLite
//! and PostgreSQL both accept) and typed arguments, so a NULL keeps its column type on PostgreSQL.

use flowgate_core::Micros;
use sqlx::{Decode, Postgres, Row as _, Sqlite, Type};
use uuid::Uuid;

use crate::backend::driver_error;
use crate::store::{Result, StoreError};

/// One bound argument. Each variant carries its SQL type, also when NULL.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// A TEXT value (ids, names, JSON text), NULL when `None`.
    Text(Option<String>),
    /// A BIGINT value (microsecond timestamps, counts), NULL when `None`.
    Int(Option<i64>),
    /// A DOUBLE PRECISION value (durations in seconds), NULL when `None`.
    Float(Option<f64>),
}

impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_owned()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<bool> for Arg {
    /// Booleans are stored as BIGINT 0 / 1 on both backends.
    fn from(v: bool) -> Self {
        Arg::Int(Some(i64::from(v)))
    }
}
impl From<f64> for Arg {
    fn from(v: f64) -> Self {
        Arg::Float(Some(v))
    }
}
impl From<Option<f64>> for Arg {
    fn from(v: Option<f64>) -> Self {
        Arg::Float(v)
    }
}
impl From<Uuid> for Arg {
    fn from(v: Uuid) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<Option<Uuid>> for Arg {
    fn from(v: Option<Uuid>) -> Self {
        Arg::Text(v.map(|u| u.to_string()))
    }
}
impl From<Micros> for Arg {
    fn from(v: Micros) -> Self {
        Arg::Int(Some(v.0))
    }
}
impl From<Option<Micros>> for Arg {
    fn from(v: Option<Micros>) -> Self {
        Arg::Int(v.map(|m| m.0))
    }
}
impl From<&serde_json::Value> for Arg {
    fn from(v: &serde_json::Value) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}

/// SQL text with its arguments, built piece by piece.
#[derive(Clone, Debug, Default)]
pub struct Sql {
    /// The statement, with `$1`, `$2`, ... placeholders.
    pub text: String,
    /// Arguments in placeholder order.
    pub args: Vec<Arg>,
}

impl Sql {
    /// Starts a statement.
    pub fn new(text: &str) -> Sql {
        Sql {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    /// Appends raw SQL text.
    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub fn arg(&mut self, arg: impl Into<Arg>) -> &mut Sql {
        self.args.push(arg.into());
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    /// Appends `$i, $j, ...` bound to `args`.
    pub fn arg_list<A: Into<Arg>>(&mut self, args: impl IntoIterator<Item = A>) -> &mut Sql {
        for (i, a) in args.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.arg(a);
        }
        self
    }

    /// Appends one `(…), (…)` row tuple of placeholders per row, for multi-row inserts.
    pub fn rows(&mut self, rows: impl IntoIterator<Item = Vec<Arg>>) -> &mut Sql {
        for (i, row) in rows.into_iter().enumerate() {
            self.push(if i == 0 { "(" } else { ", (" });
            self.arg_list(row);
            self.push(")");
        }
        self
    }
}

/// Collects `AND`-joined conditions into a `WHERE` clause.
#[derive(Default)]
pub struct Conditions {
    parts: Vec<Sql>,
}

impl Conditions {
    /// Adds one condition, built by `f` on a fresh fragment.
    pub fn add(&mut self, f: impl FnOnce(&mut Sql)) {
        let mut s = Sql::default();
        f(&mut s);
        self.parts.push(s);
    }

    /// Adds every condition of `other`.
    pub fn extend(&mut self, other: Conditions) {
        self.parts.extend(other.parts);
    }

    /// Appends ` WHERE a AND b ...` (nothing when empty) to `sql`, renumbering placeholders.
    pub fn append_to(self, sql: &mut Sql) {
        for (i, part) in self.parts.into_iter().enumerate() {
            sql.push(if i == 0 { " WHERE " } else { " AND " });
            append_fragment(sql, part);
        }
    }
}

/// Appends a fragment whose placeholders start at `$1`, shifting them past `sql`'s arguments.
pub fn append_fragment(sql: &mut Sql, part: Sql) {
    let offset = sql.args.len();
    let mut chars = part.text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c == '$' {
            let mut n = 0usize;
            while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
                n = n * 10 + d.to_digit(10).unwrap_or(0) as usize;
                chars.next();
            }
            sql.text.push('$');
            sql.text.push_str(&(n + offset).to_string());
        } else {
            sql.text.push(c);
        }
    }
    sql.args.extend(part.args);
}

/// A result row from either backend, read by column name.
pub enum Row {
    /// A SQLite row.
    Sqlite(sqlx::sqlite::SqliteRow),
    /// A PostgreSQL row.
    Postgres(sqlx::postgres::PgRow),
}

/// Column types both backends can decode.
pub trait Column:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}
impl<T> Column for T where
    T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

impl Row {
    /// Reads column `col` as `T`.
    pub fn get<T: Column>(&self, col: &str) -> Result<T> {
        match self {
            Row::Sqlite(r) => r.try_get(col),
            Row::Postgres(r) => r.try_get(col),
        }
        .map_err(driver_error)
    }

    /// Reads a TEXT column holding a uuid.
    pub fn uuid(&self, col: &str) -> Result<Uuid> {
        let s: String = self.get(col)?;
        Uuid::parse_str(&s).map_err(|e| decode_error(col, e))
    }

    /// Reads a nullable TEXT column holding a uuid.
    pub fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>> {
        let s: Option<String> = self.get(col)?;
        s.map(|s| Uuid::parse_str(&s).map_err(|e| decode_error(col, e)))
            .transpose()
    }

    /// Reads a BIGINT column of microseconds.
    pub fn micros(&self, col: &str) -> Result<Micros> {
        Ok(Micros(self.get(col)?))
    }

    /// Reads a nullable BIGINT column of microseconds.
    pub fn opt_micros(&self, col: &str) -> Result<Option<Micros>> {
        Ok(self.get::<Option<i64>>(col)?.map(Micros))
    }

    /// Reads a TEXT column holding JSON (NULL reads as JSON null).
    pub fn json(&self, col: &str) -> Result<serde_json::Value> {
        match self.get::<Option<String>>(col)? {
            Some(s) => serde_json::from_str(&s).map_err(|e| decode_error(col, e)),
            None => Ok(serde_json::Value::Null),
        }
    }

    /// Reads a TEXT column holding a JSON array of strings.
    pub fn string_list(&self, col: &str) -> Result<Vec<String>> {
        match self.get::<Option<String>>(col)? {
            Some(s) => serde_json::from_str(&s).map_err(|e| decode_error(col, e)),
            None => Ok(Vec::new()),
        }
    }
}

fn decode_error(col: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("column {col}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_in_order_and_fragments_renumber() {
        let mut sql = Sql::new("SELECT * FROM t WHERE a = ");
        sql.arg(1i64);
        let mut conds = Conditions::default();
        conds.add(|s| {
            s.push("b IN (").arg_list(["x", "y"]).push(")");
        });
        conds.add(|s| {
            s.push("c = ").arg(2.5);
        });
        sql.push(" AND z = 1");
        let mut tail = Sql::default();
        conds.append_to(&mut tail);
        append_fragment(&mut sql, tail);
        assert_eq!(
            sql.text,
            "SELECT * FROM t WHERE a = $1 AND z = 1 WHERE b IN ($2, $3) AND c = $4"
        );
        assert_eq!(sql.args.len(), 4);
    }

    #[test]
    fn rows_make_tuples() {
        let mut sql = Sql::new("INSERT INTO t VALUES ");
        sql.rows([
            vec![Arg::from(1i64), Arg::from("a")],
            vec![Arg::from(2i64), Arg::Text(None)],
        ]);
        assert_eq!(sql.text, "INSERT INTO t VALUES ($1, $2), ($3, $4)");
    }
}
